"""No mode spends a step on a near-duplicate of the image it just showed, unless it must."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import MODES, PathFinder
from xdeg_pipeline_tests.helpers.graphs import points_with_series, weighted_graph


@pytest.fixture(scope="module")
def graph():
    X = points_with_series(seed=4)
    return build_graph(knn_edges(X, 8), X)


def _near_dup_steps(finder: PathFinder, vertices: list[int]) -> int:
    return sum(w < finder.scale.near_dup for w in finder.arcs.steps_of(vertices))


@pytest.mark.parametrize("mode", MODES)
def test_no_near_duplicate_steps_between_images_outside_the_groups(graph, mode):
    avoiding = PathFinder(graph, near_dup_fraction=0.1)
    wading = PathFinder(graph, near_dup_fraction=0.0)
    labels = avoiding.near_duplicates.labels
    outside = np.flatnonzero(labels < 0)
    rng = np.random.default_rng(0)
    steps = 6 if mode == "steps" else None
    for _ in range(30):
        s, t = (int(v) for v in rng.choice(outside, 2, replace=False))
        assert _near_dup_steps(avoiding, avoiding.find(s, t, mode=mode, steps=steps)[0].vertices
                               ) == 0
    inside = np.flatnonzero(labels >= 0)  # into the series: only what reaching t requires
    for _ in range(10):
        s, t = int(rng.choice(outside)), int(rng.choice(inside))
        a = _near_dup_steps(avoiding, avoiding.find(s, t, mode=mode, steps=steps)[0].vertices)
        b = _near_dup_steps(avoiding, wading.find(s, t, mode=mode, steps=steps)[0].vertices)
        assert a <= b


@pytest.mark.parametrize("corridor", [False, True])
def test_smooth_takes_no_near_duplicate_step_to_save_a_step(monkeypatch, corridor):
    """smooth counts steps first, but not a near-duplicate step among them while a chain under
    the cap avoids them: 0 -> 3 in 3 steps through the near-duplicates 1-2, or in 4 natural
    steps through 4-5-6 (the corridor of huge graphs alike)."""
    if corridor:
        monkeypatch.setattr(params, "LOCAL_SEARCH_ABOVE", 3)
    g = weighted_graph(
        7, [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (6, 3)],
        [0.5, 0.01, 0.5, 0.5, 0.5, 0.5, 0.5],
    )
    pf = PathFinder(g, near_dup=0.125, hub_penalty=0.0)
    assert pf.space.fewest_steps and not pf.space.same_group(0, 3)
    assert pf.find(0, 3)[0].vertices == [0, 4, 5, 6, 3]
    assert pf.find(1, 2)[0].vertices == [1, 2]  # within one group: among its members


@pytest.mark.parametrize("mode", ["shortest", "smooth"])
def test_a_natural_route_instead_of_wading_through_near_duplicates(mode):
    # 0 -> 1 via the near-duplicate run 2-3-4-5 (steps 0.5, 0.01 x 3, 0.5) or via 6 (0.55 x 2)
    g = weighted_graph(
        7, [(0, 2), (2, 3), (3, 4), (4, 5), (5, 1), (0, 6), (6, 1)],
        [0.5, 0.01, 0.01, 0.01, 0.5, 0.55, 0.55],
    )
    wading = PathFinder(g, near_dup_fraction=0.0, hub_penalty=0.0, fewest_steps=False)
    assert wading.find(0, 1, mode=mode)[0].vertices == [0, 2, 3, 4, 5, 1]
    pf = PathFinder(g, near_dup=0.125, hub_penalty=0.0)
    assert pf.scale.near_dup == pytest.approx(0.125)
    assert pf.find(0, 1, mode=mode)[0].vertices == [0, 6, 1]
    chain = pf.find(0, 1, mode="steps", steps=4)[0]  # only the run has 5 steps: required
    assert chain.vertices == [0, 2, 3, 4, 5, 1]


@pytest.mark.parametrize("mode", MODES)
def test_a_near_duplicate_step_where_the_target_requires_it(mode):
    # 0 - 1 - 2 - 3 (weights 1) and 3 - 4 (0.01): 4 is a near-duplicate of 3, reachable only
    # through it, so the last step must be one; the chain is still found
    g = weighted_graph(5, [(0, 1), (1, 2), (2, 3), (3, 4), (0, 2)], [1.0, 1.0, 1.0, 0.01, 1.9])
    pf = PathFinder(g, near_dup=0.125)
    assert pf.scale.near_dup > 0.01
    steps = 2 if mode == "steps" else None
    chain = pf.find(0, 4, mode=mode, steps=steps)[0]
    assert chain.vertices[-2:] == [3, 4] and _near_dup_steps(pf, chain.vertices) == 1


def test_within_one_group_near_duplicate_steps_are_allowed(graph):
    pf = PathFinder(graph, near_dup_fraction=0.1)
    labels = pf.near_duplicates.labels
    g = labels[labels >= 0][0]
    members = np.flatnonzero(labels == g)
    s, t = int(members[0]), int(members[-1])
    assert pf.space.exempt(s, t)
    chain = pf.find(s, t)[0]
    assert all(labels[v] == g for v in chain.vertices)  # no detour out of the group


def test_near_duplicate_avoidance_is_on_by_default(graph):
    pf = PathFinder(graph)
    assert pf.scale.near_dup > 0 and pf.space.near_dup_penalty > 0
