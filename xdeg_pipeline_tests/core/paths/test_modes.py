"""The mode contract: every registered search honours the bans of its query."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import MODES, PathFinder
from xdeg_pipeline.core.paths.modes import SEARCHES
from xdeg_pipeline.core.paths.search import Query


@pytest.fixture(scope="module")
def finder() -> PathFinder:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 5)).astype(np.float32)
    return PathFinder(build_graph(knn_edges(X, 6), X))


def test_modes_are_the_registered_searches():
    assert MODES == tuple(SEARCHES) == ("shortest", "smooth", "steps")


@pytest.mark.parametrize("mode", MODES)
def test_every_search_honours_banned_vertices_and_edges(finder, mode):
    steps = 4 if mode == "steps" else None
    free = SEARCHES[mode](finder.space, Query(3, 120, steps))
    assert free.vertices[0] == 3 and free.vertices[-1] == 120 and free.mode == mode
    ban_v = np.zeros(finder.n, bool)
    ban_v[free.vertices[1:-1]] = True
    other = SEARCHES[mode](finder.space, Query(3, 120, steps, ban_v, None))
    assert not set(other.vertices) & set(free.vertices[1:-1])
    assert other.steps == finder.arcs.steps_of(other.vertices)
    ban_e = np.zeros(len(finder.arcs.w), bool)
    ban_e[finder.arcs.edges_between(*other.vertices[:2])] = True
    again = SEARCHES[mode](finder.space, Query(3, 120, steps, ban_v, ban_e))
    assert again.vertices[1] != other.vertices[1]
    assert not set(again.vertices) & set(free.vertices[1:-1])
