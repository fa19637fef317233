"""The kNN table updated for added and removed rows equals (or is as good as) a rebuild."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.knn import edge_table, exact_knn, knn_edges, knn_recall
from xdeg_pipeline.core.graph.knn_update import update_knn_edges


def _clusters(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (max(4, n // 60), d))
    return (centres[rng.integers(0, len(centres), n)] + rng.normal(0, 1, (n, d))
            ).astype(np.float32)


def _exact_table(X: np.ndarray, k: int, space: str) -> pd.DataFrame:
    ids, _ = exact_knn(X, k, space)
    return edge_table(X, ids, k, space)


def _lists(edges: pd.DataFrame, keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, t in zip(edges["source"], edges["target"]):
        out.setdefault(keys[s], []).append(keys[t])
    return out


def _change(X: np.ndarray, keys: list[str], add: np.ndarray, drop: set[int], seed: int):
    """New rows: the kept ones shuffled, with ``add`` vectors inserted among them."""
    rng = np.random.default_rng(seed)
    rows = [(keys[i], X[i]) for i in range(len(X)) if i not in drop]
    rows += [(f"new{j}", v) for j, v in enumerate(add)]
    order = rng.permutation(len(rows))
    return [rows[i][0] for i in order], np.stack([rows[i][1] for i in order])


@pytest.mark.parametrize("space", ["cosine", "l2"])
def test_update_from_an_exact_table_is_the_exact_table(space):
    X = _clusters(1200)
    keys = [f"h{i}" for i in range(len(X))]
    k = 10
    old = _exact_table(X, k, space)
    add = _clusters(30, seed=5) + 0.5
    drop = {3, 17, 400, 999}
    new_keys, Xn = _change(X, keys, add, drop, seed=1)
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=k, space=space)
    assert info.mode == "update" and info.added == 30 and info.removed == 4
    assert 30 < info.searched < 100  # the new rows and those that lost a neighbour
    want = _exact_table(Xn, k, space)
    assert list(edges.columns) == list(want.columns)
    assert edges.dtypes.to_dict() == want.dtypes.to_dict()
    pd.testing.assert_frame_equal(edges.reset_index(drop=True), want.reset_index(drop=True))
    assert _lists(edges, new_keys) == _lists(want, new_keys)


def test_update_of_an_hnsw_table_is_as_good_as_a_rebuild():
    X = _clusters(4000, d=32)
    keys = [f"h{i}" for i in range(len(X))]
    k = 10
    old = knn_edges(X, k=k, exact_max=0)  # an approximate (HNSW) table
    new_keys, Xn = _change(X, keys, _clusters(40, d=32, seed=9), {5, 6, 7}, seed=2)
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=k)
    assert info.mode == "update"
    rebuilt = knn_edges(Xn, k=k, exact_max=0)
    r_old = knn_recall(X, old, k, sample=1000)
    r_update = knn_recall(Xn, edges, k, sample=1000)
    r_rebuild = knn_recall(Xn, rebuilt, k, sample=1000)
    # HNSW builds on several threads are not repeatable (CI once drew 0.983 then 1.0): the
    # update keeps the previous lists, so it is held to the worse of the two builds
    assert r_update >= min(r_old, r_rebuild) - 0.005, (r_old, r_update, r_rebuild)
    assert r_update > 0.95
    # the new rows' lists are exact
    new_rows = np.array([i for i, key in enumerate(new_keys) if key.startswith("new")])
    ids, _ = exact_knn(Xn, k, params.KNN_SPACE, rows=new_rows)
    got = edges[edges["source"].isin(new_rows)].sort_values(["source", "rank"])
    assert (got["target"].to_numpy().reshape(len(new_rows), k) == ids).mean() > 0.99
    # every row has k distinct neighbours, never itself, ranked 1..k by distance
    assert (edges.groupby("source").size() == k).all()
    assert not (edges["source"] == edges["target"]).any()
    assert not edges.duplicated(["source", "target"]).any()
    d = edges.sort_values(["source", "rank"])["distance"].to_numpy().reshape(-1, k)
    assert (np.diff(d, axis=1) >= 0).all()


def test_exact_duplicates_among_the_new_rows():
    X = _clusters(600)
    keys = [f"h{i}" for i in range(len(X))]
    k = 6
    old = _exact_table(X, k, params.KNN_SPACE)
    add = np.stack([X[10], X[10], X[20]])  # copies of existing vectors
    new_keys = keys + ["c1", "c2", "c3"]
    Xn = np.concatenate([X, add])
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=k)
    assert info.mode == "update"
    lists = _lists(edges, new_keys)
    assert set(lists["c1"][:2]) == {"h10", "c2"}  # copies are each other's nearest
    assert set(lists["h10"][:2]) == {"c1", "c2"} and lists["h20"][0] == "c3"
    assert (edges[edges["target"] == new_keys.index("c1")]["distance"] >= 0).all()


def test_update_of_a_default_small_table_is_the_rebuild():
    """Below params.KNN_EXACT_MAX both the first table and a rebuild are exact: the update
    gives the very same table as a rebuild (deterministic builds)."""
    X = _clusters(3000)
    keys = [f"h{i}" for i in range(len(X))]
    new_keys, Xn = _change(X, keys, _clusters(30, seed=4), {1, 2}, seed=3)
    edges, info = update_knn_edges(keys, knn_edges(X, k=20), new_keys, Xn, k=20)
    assert info.mode == "update"
    pd.testing.assert_frame_equal(edges, knn_edges(Xn, k=20))


def test_rebuild_when_cheaper_or_needed():
    X = _clusters(500)
    keys = [f"h{i}" for i in range(len(X))]
    old = knn_edges(X, k=8)
    big_keys, big = _change(X, keys, _clusters(100, seed=3), set(), seed=0)
    edges, info = update_knn_edges(keys, old, big_keys, big, k=8)
    assert info.mode == "rebuild" and "rows to search" in info.reason
    assert len(edges) == len(big) * 8
    _, info = update_knn_edges(keys, old, keys, X, k=12)  # more neighbours than stored
    assert info.mode == "rebuild" and "k=8" in info.reason
    edges, info = update_knn_edges(keys, old, keys, X, k=8)  # nothing changed
    assert info.mode == "update" and info.searched == 0
    pd.testing.assert_frame_equal(edges.reset_index(drop=True), old.reset_index(drop=True))
    with pytest.raises(ValueError, match="unique"):
        update_knn_edges(keys, old, keys[:-1] + [keys[0]], X, k=8)


def test_small_collections():
    X = _clusters(5)
    keys = list("abcde")
    old = knn_edges(X[:3], k=10)  # k capped at n - 1 = 2
    edges, info = update_knn_edges(keys[:3], old, keys, X, k=10, max_change=1.0)
    assert info.mode == "update"  # the old lists were complete: merging them is exact
    pd.testing.assert_frame_equal(edges, _exact_table(X, 4, params.KNN_SPACE))
    edges, info = update_knn_edges(keys[:3], old, keys[:3], X[:3], k=10)
    assert info.mode == "update" and (edges.groupby("source").size() == 2).all()


def test_a_routed_update_searches_new_rows_in_their_partitions_and_keeps_recall():
    """Above the partition threshold: new rows searched in their nearest partitions, kept
    rows taking in the new rows that found them; close to the exact table."""
    X = _clusters(6000, d=32)
    keys = [f"h{i}" for i in range(len(X))]
    k = 10
    old = _exact_table(X, k, params.KNN_SPACE)
    noise = np.random.default_rng(11).normal(0, 0.3, (60, 32)).astype(np.float32)
    add = X[::100] + noise  # among the collection's own images: kept rows gain neighbours
    new_keys, Xn = _change(X, keys, add, {5, 6, 7}, seed=3)
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=k, partitions=4)
    assert info.mode == "update" and info.reason == "routed" and info.added == 60
    want = _exact_table(Xn, k, params.KNN_SPACE)
    assert knn_recall(Xn, edges, k, sample=2000) > 0.99
    pairs = set(zip(edges["source"], edges["target"]))
    new_rows = {i for i, key in enumerate(new_keys) if key.startswith("new")}
    true_new = [(s, t) for s, t in zip(want["source"], want["target"]) if s in new_rows]
    assert np.mean([p in pairs for p in true_new]) > 0.98  # the new rows' own lists
    taken = [(s, t) for s, t in zip(want["source"], want["target"])
             if t in new_rows and s not in new_rows]  # kept rows that gain a new neighbour
    share = np.mean([p in pairs for p in taken])
    assert len(taken) > 30 and share > 0.9, share
    assert (edges.groupby("source").size() == k).all()
    assert not (edges["source"] == edges["target"]).any()
    assert not edges.duplicated(["source", "target"]).any()
    plain, plain_info = update_knn_edges(keys, old, new_keys, Xn, k=k)
    assert plain_info.reason == ""  # without partitions: every row compared, exact
    pd.testing.assert_frame_equal(plain.reset_index(drop=True), want.reset_index(drop=True))


def test_a_routed_update_with_removals_only():
    X = _clusters(3000, d=16)
    keys = [f"h{i}" for i in range(len(X))]
    old = _exact_table(X, 8, params.KNN_SPACE)
    new_keys, Xn = _change(X, keys, np.zeros((0, 16), np.float32), {1, 2, 3, 500}, seed=4)
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=8, partitions=3)
    assert info.mode == "update" and info.reason == "routed" and info.removed == 4
    assert knn_recall(Xn, edges, 8, sample=1000) > 0.99
    assert (edges.groupby("source").size() == 8).all()


def test_an_update_measures_only_the_pairs_the_old_table_lacks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The distances of pairs the previous table holds are carried (the same vectors give the
    same values), so an update computes few: the table still equals the exact one."""
    from xdeg_pipeline.core.graph import knn

    X = _clusters(1500)
    keys = [f"h{i}" for i in range(len(X))]
    old = _exact_table(X, 10, "l2")
    new_keys, Xn = _change(X, keys, _clusters(15, seed=7) + 0.5, set(), seed=2)
    measured: list[int] = []
    real = knn.pair_distances
    monkeypatch.setattr(knn, "pair_distances",
                        lambda X, a, b, space: measured.append(len(a)) or real(X, a, b, space))
    edges, info = update_knn_edges(keys, old, new_keys, Xn, k=10, space="l2")
    assert info.mode == "update"
    candidates = sum(measured) + len(old)  # at least the old pairs were candidates again
    assert sum(measured) < 0.1 * candidates, "only the new pairs are measured"
    pd.testing.assert_frame_equal(edges.reset_index(drop=True),
                                  _exact_table(Xn, 10, "l2").reset_index(drop=True))


@pytest.mark.parametrize("shuffled", [False, True])
def test_only_rows_near_what_changed_are_ranked_again(monkeypatch: pytest.MonkeyPatch,
                                                      shuffled: bool):
    """A kept row no new row came near, and that lost none, keeps its previous edges: the
    same table as ranking every row (ties in distance included; kept rows in another order
    now: all ranked again), for a part of the rows."""
    from xdeg_pipeline.core.graph import knn_update

    rng = np.random.default_rng(5)
    X = (np.round(rng.normal(size=(1500, 4)) * 2) / 2).astype(np.float32)  # many ties
    keys = [f"r{i}" for i in range(len(X))]
    old_keys = keys[:1485]
    old = knn_edges(X[:1485], k=8, space="l2")
    if shuffled:
        keys, X = _change(X[:1485], keys[:1485], X[1485:], set(), seed=1)
    ranked: list[int] = []
    real = knn_update.pair_table

    def spy(X_, src, *args, **kwargs):
        ranked.append(len(np.unique(src)))
        return real(X_, src, *args, **kwargs)

    monkeypatch.setattr(knn_update, "pair_table", spy)
    got, how = update_knn_edges(old_keys, old, keys, X, k=8, space="l2")
    monkeypatch.setattr(knn_update, "_ranked", lambda X_, cand, k, space, old_edges, o2n, *_:
                        edge_table(X_, knn_update._unique_rows(cand), k, space,
                                   previous=(old_edges, o2n)))
    every, _ = update_knn_edges(old_keys, old, keys, X, k=8, space="l2")
    assert how.mode == "update" and got.equals(every)
    if shuffled:
        assert ranked == []  # another order: every row ranked, as before
    else:
        assert len(ranked) == 1 and 15 <= ranked[0] < 0.5 * len(X), ranked
