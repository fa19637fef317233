"""Pinned chains (issue 21): kept while every step exists; today's chain offered if better."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.pinned import better_than, chain_cost, check_pinned


@pytest.fixture(scope="module")
def finder() -> PathFinder:
    X = np.random.default_rng(3).normal(size=(150, 6)).astype(np.float32)
    return PathFinder(build_graph(knn_edges(X, k=8), X))


def test_a_chain_of_the_graph_is_kept(finder: PathFinder) -> None:
    best, other = finder.find(0, 99, alternatives=2)
    for c in (best, other):
        kept, why = check_pinned(finder.space, c.vertices, 0, 99, "smooth")
        assert why == "" and kept.vertices == c.vertices
        assert kept.steps == pytest.approx(c.steps)
    assert not better_than(finder.space, best, best, "smooth")
    assert chain_cost(finder.space, best.vertices) <= chain_cost(finder.space, other.vertices)


def test_today_is_better_only_when_clearly_so(finder: PathFinder) -> None:
    best, other = finder.find(0, 99, alternatives=2)
    pinned, _ = check_pinned(finder.space, other.vertices, 0, 99, "smooth")
    clearly = (best.largest_step < 0.97 * other.largest_step
               or chain_cost(finder.space, best.vertices)
               < 0.8 * chain_cost(finder.space, other.vertices))
    assert better_than(finder.space, best, pinned, "smooth") == clearly
    assert not better_than(finder.space, pinned, best, "smooth")  # never the other way round


def test_a_chain_that_no_longer_holds_says_why(finder: PathFinder) -> None:
    (best,) = finder.find(0, 99)
    v = best.vertices
    far = next(u for u in range(finder.n) if u not in v
               and int(finder.arcs.arc_of(np.array([v[0]]), np.array([u]))[0]) < 0)
    cases = {
        "does not join": v[:-1],
        "no longer an edge": [v[0], far, *v[1:]],
        "repeats an image": [v[0], *v[1:-1], v[1], v[-1]] if len(v) > 2 else [v[0], v[0], v[-1]],
        "intermediate images": v,
    }
    for expected, chain in cases.items():
        mode, steps = ("steps", len(v) + 3) if expected == "intermediate images" else ("smooth",
                                                                                      None)
        kept, why = check_pinned(finder.space, chain, 0, 99, mode, steps)
        assert kept is None and expected in why, (expected, why)
