"""The rerank of kNN candidates by the full features: chord distances, carried values, the k
nearest kept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xdeg_pipeline.core.graph.knn import carried_values, knn_edges
from xdeg_pipeline.core.graph.rerank import chord_distances, rerank_candidates


def test_rerank_keeps_the_nearest_candidates_by_the_full_features() -> None:
    """Candidates found in a projection; the k kept are the nearest by the chord distance of
    the full rows (float32, or float16 for half the memory: the same lists here)."""
    rng = np.random.default_rng(3)
    full = rng.normal(size=(200, 48)).astype(np.float32) * rng.uniform(0.5, 2, (200, 1))
    cand = knn_edges(full[:, :4], k=15)  # a poor projection: 4 of 48 coordinates

    def rerank(rows: np.ndarray) -> pd.DataFrame:
        return rerank_candidates(cand, 5, lambda a, b: chord_distances(rows, a, b))[1]

    kept = rerank(full)
    unit = full / np.linalg.norm(full, axis=1, keepdims=True)
    assert (kept.groupby("source").size() == 5).all()
    for s, group in cand.groupby("source"):
        chord = np.linalg.norm(unit[group["target"].to_numpy()] - unit[s], axis=1)
        want = group["target"].to_numpy()[np.argsort(chord, kind="stable")[:5]].tolist()
        row = kept[kept["source"] == s]
        assert row["target"].tolist() == want and row["rank"].tolist() == [1, 2, 3, 4, 5]
    half = rerank(full.astype(np.float16))
    same = (half["target"].to_numpy() == kept["target"].to_numpy()).mean()
    assert same > 0.97
    assert not kept.equals(cand[cand["rank"] <= 5].reset_index(drop=True))  # it did rerank


def test_carried_values_follow_the_pairs_through_renumbered_rows() -> None:
    """A value of a pair (its chord) carries to the same two rows under their new ids; pairs
    the previous table did not hold, or with a row gone, are NaN."""
    rng = np.random.default_rng(5)
    full = rng.normal(size=(60, 16)).astype(np.float32)
    old = knn_edges(full[:50], k=6)
    old["chord"] = chord_distances(full, old["source"].to_numpy(), old["target"].to_numpy())
    keep = np.r_[3:50]  # rows 0-2 gone, 10 added, all renumbered
    order = rng.permutation(len(keep) + 10)
    rows = np.r_[keep, 50:60][order]  # new id i is old/added row rows[i]
    new = knn_edges(full[rows], k=6)
    old_to_new = np.full(50, -1)
    old_to_new[rows[rows < 50]] = np.flatnonzero(rows < 50)
    got = carried_values(new, old, "chord", old_to_new)
    true = chord_distances(full, rows[new["source"].to_numpy()], rows[new["target"].to_numpy()])
    pairs = set(zip(old["source"], old["target"]))
    held = np.array([(rows[s], rows[t]) in pairs for s, t in zip(new["source"], new["target"])])
    assert held.any() and (~held).any()
    np.testing.assert_allclose(got[held], true[held], rtol=1e-6)
    assert np.isnan(got[~held]).all()
    where = np.full(60, -1)
    where[rows] = np.arange(len(rows))  # only some rows given: looked up through where
    part = chord_distances(full[rows], rows[new["source"].to_numpy()],
                           rows[new["target"].to_numpy()], where)
    np.testing.assert_allclose(part, true, rtol=1e-6)
