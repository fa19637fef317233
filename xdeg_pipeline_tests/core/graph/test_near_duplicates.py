"""Near-duplicates: the near-duplicate distance, the natural step and the groups."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.near_duplicates import (
    find_near_duplicates,
    near_dup_distance,
    near_duplicate_groups,
    pair_median,
    step_scale,
)
from xdeg_pipeline_tests.helpers.graphs import points_with_series, weighted_graph


def test_a_series_does_not_shrink_the_natural_step():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.8, 1.2, 100)  # images whose nearest neighbour is a natural step away
    series = rng.uniform(0.005, 0.02, 200)  # a series: each a tiny step from the next
    nearest = np.concatenate([spread, series, [np.inf]])
    assert np.median(nearest) < 0.05  # the plain median is the series' step ...
    scale = step_scale(nearest, near_dup=0.1)
    assert scale.natural == pytest.approx(np.median(spread))  # ... the natural step is not
    assert scale.near_dup == 0.1
    assert step_scale(nearest, near_dup=0.0).natural == pytest.approx(np.median(nearest[:-1]))
    assert step_scale(np.array([np.inf]), 0.1).natural == 0.0


def test_the_near_duplicate_distance_scales_with_the_random_pair_median():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 8)).astype(np.float32)
    m = pair_median(X, "l2")
    d = np.linalg.norm(X[:, None] - X[None], axis=2)
    exact = np.median(d[np.triu_indices(500, 1)])
    assert m == pytest.approx(exact, rel=0.03)
    assert pair_median(3 * X, "l2") == pytest.approx(3 * m, rel=1e-5)  # a scale, not a count
    g = build_graph(knn_edges(X, 6), X)
    assert g["params"]["pair_median"] == pytest.approx(m)
    assert near_dup_distance(g) == pytest.approx(params.NEAR_DUP_FRACTION * m)
    assert near_dup_distance(g, 0.5) == pytest.approx(0.5 * m)
    assert near_dup_distance(weighted_graph(2, [(0, 1)], [1.0])) == 0.0  # no stored scale


def test_groups_are_the_components_of_the_short_edges():
    eu = np.array([0, 1, 3, 2, 4, 6])
    ev = np.array([1, 2, 4, 3, 5, 7])
    w = np.array([0.01, 0.02, 0.01, 0.5, 0.6, 0.09])
    labels = near_duplicate_groups(8, eu, ev, w, near_dup=0.1)
    assert labels.tolist() == [0, 0, 0, 1, 1, -1, 2, 2]
    assert near_duplicate_groups(8, eu, ev, w, near_dup=0.0).tolist() == [-1] * 8


def test_find_near_duplicates_of_a_graph_holds_the_series():
    X = points_with_series(seed=1)
    nd = find_near_duplicates(build_graph(knn_edges(X, 8), X), fraction=0.1)
    in_group = nd.labels >= 0
    assert in_group[200:].mean() > 0.9 and in_group[:200].mean() < 0.05
    assert nd.scale.natural > 10 * np.median(nd.nearest[200:])
    groups = nd.groups
    assert sum(len(g) for g in groups) == int(in_group.sum())
    assert all(len(set(nd.labels[g])) == 1 and len(g) > 1 for g in groups)
    summary = nd.summary()
    assert summary["groups"] == len(groups)
    assert summary["largest_group"] == max(len(g) for g in groups)
    assert summary["images_in_groups"] == int(in_group.sum())


def test_the_lean_graph_gives_the_same_near_duplicates():
    """The near_duplicates stage reads the graph as arrays (LeanGraph): the same kNN edges
    (long-range ones left out), groups and scale as the igraph graph."""
    from xdeg_pipeline.core.graph.lean import LeanGraph
    from xdeg_pipeline.core.graph.near_duplicates import knn_edges_of

    X = points_with_series(seed=1)
    graph = build_graph(knn_edges(X, 8), X)
    graph.es["long"] = [i % 7 == 0 for i in range(graph.ecount())]  # as landmark edges are
    lean = LeanGraph.of(graph)
    for a, b in zip(knn_edges_of(graph), knn_edges_of(lean), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(knn_edges_of(lean)[0]) < graph.ecount()
    ours, theirs = find_near_duplicates(graph), find_near_duplicates(lean)
    np.testing.assert_array_equal(ours.labels, theirs.labels)
    np.testing.assert_array_equal(ours.nearest, theirs.nearest)
    assert ours.scale == theirs.scale
