"""Hub load: subtree sizes, and the stored load is the one a finder would estimate."""

from __future__ import annotations

import numpy as np

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.load import attach_hub_load, subtree_sizes


def test_subtree_sizes_count_descendants():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 40
        pred = np.full(n, -9999)
        order = rng.permutation(n)
        for i, v in enumerate(order[1:], start=1):  # a random forest: parent earlier in order
            if rng.random() < 0.9:
                pred[v] = order[rng.integers(0, i)]
        expected = np.ones(n)
        for v in range(n):
            u = pred[v]
            while u >= 0:
                expected[u] += 1
                u = pred[u]
        np.testing.assert_array_equal(subtree_sizes(pred), expected)


def test_stored_load_is_the_finders_estimate_and_is_reused_only_when_settings_match():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    edges = knn_edges(X, 6)
    stored = attach_hub_load(build_graph(edges, X))
    bare = build_graph(edges, X)
    assert "load" not in bare.vs.attributes()
    estimated = PathFinder(bare).load  # no stored load: estimated by the finder
    assert np.array(stored.vs["load"]).tolist() == estimated.tolist()
    assert stored["params"]["load_params"] == PathFinder(bare).load_params()
    stored.vs["load"] = [0.5] * 200  # a stored load is read back, not re-estimated ...
    assert PathFinder(stored).load.tolist() == [0.5] * 200
    other = PathFinder(stored, power=2.0)  # ... unless it was made with other settings
    assert other.load.tolist() == other.estimate_load().tolist() != [0.5] * 200
    assert PathFinder(stored, hub_penalty=0.0).load.tolist() == [0.0] * 200
