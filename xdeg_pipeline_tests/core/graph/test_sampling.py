"""Samples drawn by content-hash keys stay put when images arrive (issue 21)."""

from __future__ import annotations

import numpy as np

from xdeg_pipeline.core.graph.build import build_graph, long_range_edges
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.near_duplicates import pair_median
from xdeg_pipeline.core.graph.sampling import (
    graph_keys,
    ranked_pairs,
    ranked_sample,
    vertex_keys,
)


def _hashes(n: int, start: int = 0) -> list[str]:
    return [f"{i:064x}" for i in range(start, start + n)]


def test_keys_come_from_content_hashes_not_positions():
    h = _hashes(50)
    k = vertex_keys(h, 50)
    assert len(set(k.tolist())) == 50
    shuffled = vertex_keys(h[::-1], 50)
    assert np.array_equal(shuffled, k[::-1])
    assert not np.array_equal(vertex_keys(None, 50), k)  # no hashes: by id


def test_a_sample_keeps_its_members_when_images_arrive():
    old = vertex_keys(_hashes(1000), 1000)
    new = np.concatenate([old, vertex_keys(_hashes(10, 5000), 10)])
    for salt in range(20):
        a, b = ranked_sample(old, 48, salt), ranked_sample(new, 48, salt)
        assert len(set(a.tolist()) & set(b.tolist())) >= 44  # ~1% of a sample moves
    assert not np.array_equal(ranked_sample(old, 48, 0), ranked_sample(old, 48, 1))


def test_a_seeded_draw_over_ids_would_not_keep_them():
    """The old way, for contrast: one more image and the draw is another one."""
    a = np.random.default_rng(0).choice(1000, 48, replace=False)
    b = np.random.default_rng(0).choice(1010, 48, replace=False)
    assert len(set(a.tolist()) & set(b.tolist())) < 10


def test_ranked_pairs_differ_and_cover_the_samples():
    keys = vertex_keys(_hashes(300), 300)
    a, b = ranked_pairs(keys, 1000)
    assert len(a) >= 1000 and (a != b).all()


def test_pair_median_and_landmarks_stay_when_far_images_arrive():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 8)).astype(np.float32)
    far = (rng.normal(size=(6, 8)) + 40).astype(np.float32)
    Y = np.concatenate([X, far])
    kx, ky = vertex_keys(_hashes(600), 600), vertex_keys(_hashes(606), 606)
    assert abs(pair_median(X, "l2", keys=kx) / pair_median(Y, "l2", keys=ky) - 1) < 0.01
    _, na = long_range_edges(X, "l2", 49, keys=kx)
    _, nb = long_range_edges(Y, "l2", 49, keys=ky)
    assert np.array_equal(na[:600], nb[:600])  # every image keeps its nearest landmark


def test_build_graph_reads_the_keys_from_content_hashes():
    X = np.random.default_rng(1).normal(size=(80, 4)).astype(np.float32)
    g = build_graph(knn_edges(X, k=5), X, vertex_attrs={"content_hash": _hashes(80)})
    assert np.array_equal(graph_keys(g), vertex_keys(_hashes(80), 80))
