"""The knn_edges stage: updated for added images (same PCA model), rebuilt otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.knn import knn_edges as full_build
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages.knn import knn_edges
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline_tests.helpers.pca_stage import (
    clustered_vectors,
    write_image_features,
    write_pca,
)


def test_added_images_update_the_table(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, k=8)
    keys = [f"{i:064x}" for i in range(600)]
    Z = clustered_vectors(600, 0)
    write_pca(tmp_path, keys, Z, "m1")
    first = knn_edges(settings)
    assert first.facts["mode"] == "build" and not first.reused
    assert pd.read_parquet(tmp_path / "knn_rows.parquet")["content_hash"].tolist() == keys

    again = knn_edges(settings)  # nothing changed: reused
    assert again.reused

    new_keys = keys[5:] + [f"{i:064x}" for i in range(1000, 1012)]  # -5, +12, reordered
    order = np.random.default_rng(1).permutation(len(new_keys))
    new_keys = [new_keys[i] for i in order]
    Zn = np.concatenate([Z[5:], clustered_vectors(12, 7)])[order]
    write_pca(tmp_path, new_keys, Zn, "m1")
    grown = knn_edges(settings)
    assert grown.facts["mode"] == "update"
    assert 12 <= grown.facts["rows_searched"] < 60
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    pd.testing.assert_frame_equal(edges, full_build(Zn, k=8))  # exact: the same as a rebuild
    assert grown.state["images"] == len(new_keys)

    write_pca(tmp_path, new_keys, Zn * 1.5, "m2")  # a refitted PCA: every vector moved
    assert knn_edges(settings).facts["mode"] == "build"
    write_pca(tmp_path, new_keys, Zn, "m2", transform=3)  # the same model, rows reduced anew
    assert knn_edges(settings).facts["mode"] == "build"


def test_a_rows_file_that_does_not_match_rebuilds(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, k=5)
    keys = [f"{i:064x}" for i in range(200)]
    Z = clustered_vectors(200, 3)
    write_pca(tmp_path, keys, Z, "m1")
    knn_edges(settings)
    # a crash between the two writes: rows of another table
    pd.DataFrame({"content_hash": keys[::-1]}).to_parquet(tmp_path / "knn_rows.parquet")
    write_pca(tmp_path, keys + ["f" * 64], np.concatenate([Z, clustered_vectors(1, 9)]), "m1")
    result = knn_edges(settings)
    assert result.facts["mode"] == "build"
    (tmp_path / "knn_rows.parquet").write_bytes(b"garbage")
    write_pca(tmp_path, keys, Z, "m1")
    assert knn_edges(settings).facts["mode"] == "build"  # unreadable: rebuilt, no crash


def test_above_the_setting_the_table_is_built_in_partitions(tmp_path: Path) -> None:
    keys = [f"{i:064x}" for i in range(600)]
    Z = clustered_vectors(600, 4)
    write_pca(tmp_path, keys, Z, "m1")
    below = knn_edges(Settings(home=tmp_path, k=8, knn_partition_above=600))
    assert below.facts["method"] == "single"
    write_pca(tmp_path, keys, Z, "m2")  # another PCA model: a fresh build
    above = knn_edges(Settings(home=tmp_path, k=8, knn_partition_above=599))
    assert above.facts["mode"] == "build" and above.facts["method"] == "partitioned"
    assert above.facts["partitions"] == 2 and above.facts["engine"] == "local"
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    single = full_build(Z, k=8)
    assert edges.dtypes.to_dict() == single.dtypes.to_dict() and len(edges) == len(single)


def test_above_the_setting_added_images_are_routed_to_their_partitions(tmp_path: Path) -> None:
    keys = [f"{i:064x}" for i in range(800)]
    Z = clustered_vectors(800, 5)
    write_pca(tmp_path, keys, Z, "m1")
    settings = Settings(home=tmp_path, k=8, knn_partition_above=700)
    assert knn_edges(settings).facts["method"] == "partitioned"
    grown_keys = keys + [f"{i:064x}" for i in range(5000, 5008)]
    Zg = np.concatenate([Z, clustered_vectors(8, 6)])
    write_pca(tmp_path, grown_keys, Zg, "m1")
    grown = knn_edges(settings)
    assert grown.facts["mode"] == "update" and grown.facts["rows_searched"] >= 8
    assert grown.facts["method"] == "update" and grown.facts["partitions"] == 2
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    new = edges[edges["source"] >= 800]
    assert new["source"].nunique() == 8 and (new.groupby("source").size() == 8).all()


def _new_kind(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` features (64-d) varying in 6 directions, and 3 of a new kind: as far from them as
    their own neighbours, in directions a PCA of the first never saw."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(64, 64)))[0]
    common = np.zeros(64)
    common[0] = 3.0  # features share a direction (CNN features are non-negative)
    X = common + rng.normal(0, 1, (n, 6)) @ basis[:, 1:7].T + rng.normal(0, 0.15, (n, 64))
    return X.astype(np.float32), (common + 2.2 * basis[:, 7:10].T).astype(np.float32)


def test_the_table_keeps_the_nearest_candidates_by_the_full_features(tmp_path: Path) -> None:
    """Candidates come from the PCA space; the k kept are the nearest in the full features, so
    a new kind of picture the kept PCA model places near everything enters few lists."""
    from xdeg_pipeline.core.graph.pca import l2_normalise
    from xdeg_pipeline.core.stages.pca import pca_features

    settings = Settings(home=tmp_path, k=8, pca_components=4)
    X, new = _new_kind(300)
    keys = [f"{i:064x}" for i in range(300)]
    write_image_features(tmp_path, keys, X)
    pca_features(settings)
    first = knn_edges(settings)
    assert first.facts["rerank"] == params.KNN_RERANK == 3 and first.facts["mode"] == "build"
    grown = keys + [f"{i:064x}" for i in range(900, 903)]
    F = np.concatenate([X, new])
    write_image_features(tmp_path, grown, F)
    assert not pca_features(settings).facts["refit"]  # the model is kept: 303 < 1.25 x 300
    after = knn_edges(settings)
    assert after.facts["mode"] == "update" and after.facts["rerank"] == 3
    cand = pd.read_parquet(tmp_path / "knn_candidates.parquet")
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    assert (cand[cand["rank"] <= 24].groupby("source").size() == 24).all()
    assert (edges.groupby("source").size() == 8).all()
    # by the PCA space alone the new kind is near everything; by the full features it is not
    pca_lists = int(cand[cand["rank"] <= 8]["target"].isin(range(300, 303)).sum())
    kept_lists = int(edges["target"].isin(range(300, 303)).sum())
    assert pca_lists >= 15 and kept_lists <= 5, (pca_lists, kept_lists)
    N = l2_normalise(F)  # each list: the 8 nearest of its candidates in the full features
    for s, group in list(cand.groupby("source"))[::37]:
        chord = np.linalg.norm(N[group["target"].to_numpy()] - N[s], axis=1)
        nearest = set(group["target"].to_numpy()[np.argsort(chord, kind="stable")[:8]].tolist())
        assert set(edges[edges["source"] == s]["target"].tolist()) == nearest
    assert read_state(tmp_path, "knn_edges")["candidates"] == len(cand)
    # the update measured only the pairs the previous candidates did not hold; every pair's
    # carried chord is its own
    assert 0 < after.facts["pairs_measured"] < len(cand) / 4, after.facts["pairs_measured"]
    src, dst = cand["source"].to_numpy(), cand["target"].to_numpy()
    true = np.linalg.norm(N[src] - N[dst], axis=1)
    np.testing.assert_allclose(cand["chord"].to_numpy(), true, atol=2e-5)


def test_an_update_changes_a_list_only_for_arrivals_nearer_in_the_full_features(
        tmp_path: Path) -> None:
    """Arrivals the kept PCA model places near everything take candidate places of old
    images; the images' previous nearest stay candidates, so an old image keeps every old
    neighbour that no arrival beats in the full features (its chains do not move)."""
    from xdeg_pipeline.core.graph.pca import l2_normalise
    from xdeg_pipeline.core.stages.pca import pca_features

    settings = Settings(home=tmp_path, k=8, pca_components=4)
    X, new = _new_kind(300, seed=2)
    keys = [f"{i:064x}" for i in range(300)]
    write_image_features(tmp_path, keys, X)
    pca_features(settings)
    knn_edges(settings)
    before = pd.read_parquet(tmp_path / "knn_edges.parquet")
    F = np.concatenate([X, new, new + 0.3, new - 0.3])  # 9 arrivals of a new kind
    write_image_features(tmp_path, keys + [f"{i:064x}" for i in range(900, 909)], F)
    assert not pca_features(settings).facts["refit"]
    assert knn_edges(settings).facts["mode"] == "update"
    cand = pd.read_parquet(tmp_path / "knn_candidates.parquet")
    after = pd.read_parquet(tmp_path / "knn_edges.parquet")
    displaced = cand[cand["rank"] > 24]  # previous nearest pushed out of the PCA candidates
    assert len(displaced) > 0 and displaced["target"].lt(300).all()
    N = l2_normalise(F)
    changed = 0
    for s in range(300):
        old = before[before["source"] == s]["target"].to_numpy()
        now = after[after["source"] == s]["target"].to_numpy()
        arrivals = now[now >= 300]
        assert set(now[now < 300]) <= set(old)  # no old image enters the list
        assert len(set(old) - set(now)) == len(arrivals)  # each one lost to a nearer arrival
        if len(arrivals):
            lost = np.array(sorted(set(old) - set(now)))
            assert np.linalg.norm(N[arrivals] - N[s], axis=1).max() <= (
                np.linalg.norm(N[lost] - N[s], axis=1).min() + 1e-6)
        changed += len(arrivals) > 0
    assert changed < 30, changed
    # a later update keeps every list its one arrival does not enter, the previous nearest
    # that the update before kept included
    more = np.concatenate([F, X[:1] * 0.5 + X[1:2] * 0.5])
    write_image_features(tmp_path, keys + [f"{i:064x}" for i in range(900, 910)], more)
    assert not pca_features(settings).facts["refit"]
    assert knn_edges(settings).facts["mode"] == "update"
    again = pd.read_parquet(tmp_path / "knn_edges.parquet")
    entered = set(again[again["target"] == 309]["source"])
    assert 0 < len(entered) < 40, entered
    keep = ~after["source"].isin(entered | {309})
    assert after[keep]["source"].isin(cand[cand["rank"] > 24]["source"]).any()  # extras
    pd.testing.assert_frame_equal(
        again[~again["source"].isin(entered | {309})].reset_index(drop=True),
        after[keep].reset_index(drop=True))


def test_rows_without_full_features_keep_the_pca_order_and_say_so(tmp_path: Path) -> None:
    """A row of pca_features missing from the shards (a shard rewritten since): the table
    keeps the PCA space's own nearest, one warning says why, and the next build reranks."""
    from xdeg_pipeline.core.stages.pca import pca_features

    settings = Settings(home=tmp_path, k=8, pca_components=4)
    X, _ = _new_kind(200)
    keys = [f"{i:064x}" for i in range(200)]
    write_image_features(tmp_path, keys, X)
    pca_features(settings)
    write_image_features(tmp_path, keys[:-1], X[:-1])  # the last row's features are gone
    warnings: list[str] = []
    result = knn_edges(settings, Reporter(warn=warnings.append))
    assert result.facts["rerank"] == 1 and len(warnings) == 1 and "rerank" in warnings[0]
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    cand = pd.read_parquet(tmp_path / "knn_candidates.parquet")
    assert (edges.groupby("source").size() == 8).all()
    pd.testing.assert_frame_equal(edges, cand[cand["rank"] <= 8].reset_index(drop=True))
    write_image_features(tmp_path, keys, X)  # the features are back: reranked, rebuilt
    again = knn_edges(settings)
    assert again.facts["rerank"] == 3 and again.facts["mode"] == "build"
