"""The arc arrays: lightest-arc lookup, chain steps, masks, validation."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest

from xdeg_pipeline.core.paths.arcs import Arcs


def graph(n: int, edges: list[tuple[int, int]], weights: list[float], long=None) -> ig.Graph:
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = weights
    if long is not None:
        g.es["long"] = long
    return g


def test_lookup_finds_the_lightest_of_parallel_edges_in_both_directions():
    arcs = Arcs(graph(4, [(0, 1), (1, 0), (1, 2), (0, 1)], [0.5, 0.2, 0.7, 0.9]))
    j = arcs.arc_of(np.array([0, 1, 2, 0]), np.array([1, 0, 1, 3]))
    assert arcs.arc_w[j[:3]].tolist() == [0.2, 0.2, 0.7] and j[3] == -1
    assert arcs.step_weight(1, 0) == 0.2
    with pytest.raises(KeyError):
        arcs.step_weight(0, 3)
    assert arcs.steps_of([2, 1, 0]) == [0.7, 0.2] and arcs.steps_of([3]) == []
    assert sorted(arcs.edges_between(0, 1).tolist()) == [0, 1, 3]


def test_rows_are_sorted_and_base_arcs_exclude_long_range_edges():
    arcs = Arcs(graph(3, [(2, 0), (0, 1), (1, 2)], [1.0, 2.0, 3.0], long=[False, True, False]))
    assert arcs.arc_row.tolist() == [0, 0, 1, 1, 2, 2]
    assert arcs.nbr.tolist() == [1, 2, 0, 2, 0, 1]
    assert arcs.base_arc.tolist() == [False, True, False, True, True, True]
    assert arcs.indptr.tolist() == [0, 2, 4, 6]


def test_bans_remove_the_arcs_of_vertices_and_edges():
    arcs = Arcs(graph(3, [(0, 1), (1, 2), (0, 2)], [1.0, 1.0, 3.0]))
    ban_v = np.array([False, True, False])
    assert set(arcs.nbr[arcs.allowed(ban_v, None)].tolist()) == {0, 2}
    ban_e = np.array([False, False, True])
    assert arcs.cheapest_path(0, 2, arcs.allowed(None, ban_e), arcs.arc_w) == [0, 1, 2]
    assert arcs.cheapest_path(0, 2, arcs.allowed(ban_v, None), arcs.arc_w) == [0, 2]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_weights_must_be_finite_and_non_negative(bad):
    with pytest.raises(ValueError, match="finite and non-negative"):
        Arcs(graph(2, [(0, 1)], [bad]))


def test_arcs_from_arrays_equal_the_arcs_read_from_the_graph():
    g = graph(5, [(0, 1), (1, 0), (3, 2), (0, 1), (4, 1), (2, 2)], [0.5, 0.2, 0.7, 0.5, 0.1, 0.3],
              long=[False, False, True, False, False, False])
    eu, ev = np.array([e[0] for e in g.get_edgelist()]), np.array([e[1] for e in g.get_edgelist()])
    read, given = Arcs(g), Arcs.from_arrays(5, eu, ev, g.es["weight"], g.es["long"])
    for name in ("eu", "ev", "w", "long_e", "arc_row", "nbr", "arc_e", "arc_w", "arc_key",
                 "indptr", "base_arc"):
        np.testing.assert_array_equal(getattr(read, name), getattr(given, name), err_msg=name)
    assert read.arc_e.dtype == np.int64 and read.mst_shift == given.mst_shift
