"""Pinned chains (issue 21): kept while every step exists; today's chain offered if better."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.pinned import (
    BETTER_HOPS,
    BETTER_LARGEST,
    better_than,
    chain_cost,
    check_pinned,
)


@pytest.fixture(scope="module")
def graph():
    X = np.random.default_rng(3).normal(size=(150, 6)).astype(np.float32)
    return build_graph(knn_edges(X, k=8), X)


@pytest.fixture(scope="module")
def finder(graph) -> PathFinder:
    return PathFinder(graph)


@pytest.fixture(scope="module")
def cheapest(graph) -> PathFinder:
    """smooth as the least-cost chain under the cap (steps not counted first)."""
    return PathFinder(graph, fewest_steps=False)


def test_a_chain_of_the_graph_is_kept(finder: PathFinder) -> None:
    best, other = finder.find(0, 99, alternatives=2)
    for c in (best, other):
        kept, why = check_pinned(finder.space, c.vertices, 0, 99, "smooth")
        assert why == "" and kept.vertices == c.vertices
        assert kept.steps == pytest.approx(c.steps)
    assert not better_than(finder.space, best, best, "smooth")
    cap = finder.space.cap(best.bound)  # the search compares costs sized against its cap
    assert best.hops < other.hops or (best.hops == other.hops and chain_cost(
        finder.space, best.vertices, cap=cap) <= chain_cost(finder.space, other.vertices, cap=cap))
    assert chain_cost(finder.space, best.vertices, cap=cap) >= chain_cost(finder.space,
                                                                          best.vertices)


def test_today_is_better_only_when_clearly_so(cheapest: PathFinder) -> None:
    best, other = cheapest.find(0, 99, alternatives=2)
    pinned, _ = check_pinned(cheapest.space, other.vertices, 0, 99, "smooth")
    clearly = (best.largest_step < BETTER_LARGEST * other.largest_step
               or chain_cost(cheapest.space, best.vertices)
               < 0.8 * chain_cost(cheapest.space, other.vertices))
    assert better_than(cheapest.space, best, pinned, "smooth") == clearly
    assert not better_than(cheapest.space, pinned, best, "smooth")  # never the other way round


def test_fewer_steps_under_the_cap_are_better(finder: PathFinder) -> None:
    """Where smooth counts steps first, today's chain of clearly fewer steps (at most
    BETTER_HOPS x) is better than a pinned chain under the same cap, whatever their largest
    steps, and a chain of more steps never is."""
    pairs = [(s, t) for s in range(0, 150, 7) for t in range(3, 150, 11) if s != t]
    seen = 0
    for s, t in pairs:
        chains = finder.find(s, t, alternatives=2)
        if len(chains) < 2 or chains[0].hops > BETTER_HOPS * chains[1].hops:
            continue
        best, other = chains
        if other.largest_step > finder.space.cap(best.bound):
            continue
        pinned, _ = check_pinned(finder.space, other.vertices, s, t, "smooth")
        assert better_than(finder.space, best, pinned, "smooth")
        again, _ = check_pinned(finder.space, best.vertices, s, t, "smooth")
        assert not better_than(finder.space, pinned, again, "smooth")
        seen += 1
    assert seen >= 3


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
