"""Waypoints: chains through given images in order, never repeating one; steps spread."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import MODES, PathError, PathFinder
from xdeg_pipeline.core.paths.waypoints import spread_hops


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(c, 1.0, (80, 6)) for c in (0.0, 5.0, 10.0)]).astype(np.float32)
    return build_graph(knn_edges(X, 8), X)


@pytest.fixture(scope="module")
def finder(graph) -> PathFinder:
    return PathFinder(graph)


def _valid(graph, chain, stops) -> bool:
    v = chain.vertices
    pos = [v.index(x) for x in stops]
    return (
        v[0] == stops[0] and v[-1] == stops[-1]
        and len(set(v)) == len(v)  # never repeats an image
        and pos == sorted(pos)  # passes the stops in order
        and all(graph.are_adjacent(a, b) for a, b in itertools.pairwise(v))
        and chain.steps == pytest.approx([graph.es[graph.get_eid(a, b)]["weight"]
                                          for a, b in itertools.pairwise(v)])
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_chain_passes_the_waypoints_in_order(graph, finder, mode):
    steps = 9 if mode == "steps" else None
    for via in ([120], [200, 100], [5, 230, 160]):
        (chain,) = finder.find(0, 239, mode=mode, steps=steps, via=via)
        assert _valid(graph, chain, [0, *via, 239])
        assert chain.via == via and chain.mode == mode
        if steps is not None:
            assert len(chain.vertices) == steps + 2  # the waypoints count among the X


def test_each_leg_is_the_mode_s_own_chain(finder):
    (whole,) = finder.find(0, 239, via=[120])
    first, second = finder.find(0, 120)[0], finder.find(120, 239)[0]
    assert whole.vertices[: whole.vertices.index(120) + 1] == first.vertices
    if not set(first.vertices[:-1]) & set(second.vertices):  # no repeat to avoid: the same leg
        assert whole.vertices[whole.vertices.index(120):] == second.vertices
    assert whole.bound == pytest.approx(max(first.bound, second.bound))


def test_steps_are_spread_so_the_largest_step_is_least(finder):
    # one leg much longer than the other: the long one gets more of the images
    (chain,) = finder.find(0, 239, steps=7, via=[3])
    i = chain.vertices.index(3)
    assert i < 4 and len(chain.vertices) - 1 - i > 4
    single = [finder.find(0, 3, mode="steps", steps=h - 1)[0].largest_step for h in (1, 2)]
    assert chain.largest_step >= min(single) - 1e-9


def test_spread_hops_against_enumeration():
    rng = np.random.default_rng(0)
    for _ in range(40):
        legs, total = int(rng.integers(1, 4)), int(rng.integers(3, 9))
        bounds = [np.where(rng.random(total + 2) < 0.2, np.inf, rng.random(total + 2))
                  for _ in range(legs)]
        best = None
        for hops in itertools.product(range(1, total + 1), repeat=legs):
            if sum(hops) != total:
                continue
            key = (max(b[h] for b, h in zip(bounds, hops)), sum(b[h] for b, h in zip(bounds, hops)))
            if np.isfinite(key[0]) and (best is None or key < best):
                best = key
        if best is None:
            with pytest.raises(PathError):
                spread_hops(bounds, total)
            continue
        got = spread_hops(bounds, total)
        assert sum(got) == total and min(got) >= 1
        assert (max(b[h] for b, h in zip(bounds, got)),
                sum(b[h] for b, h in zip(bounds, got))) == pytest.approx(best)


def test_alternatives_through_waypoints_are_distinct(graph, finder):
    chains = finder.find(0, 239, via=[120], alternatives=3)
    assert len({tuple(c.vertices) for c in chains}) == len(chains) >= 2
    assert all(_valid(graph, c, [0, 120, 239]) for c in chains)


def test_bad_waypoints_are_errors(finder):
    for kwargs, match in (
        ({"via": [0]}, "different"),
        ({"via": [5, 5]}, "different"),
        ({"via": [5], "avoid": [5]}, "cannot be avoided"),
        ({"via": [5, 6], "steps": 1}, "fewer than"),
        ({"via": [10_000]}, "not a vertex"),
    ):
        with pytest.raises(PathError, match=match):
            finder.find(0, 239, **kwargs)
