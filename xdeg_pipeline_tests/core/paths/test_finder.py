"""Path search: shortest, smooth (minimax), steps (exact hop count), alternatives, avoid."""

from __future__ import annotations

import itertools
import math

import igraph as ig
import numpy as np
import pytest
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import MODES, Chain, PathError, PathFinder


def weighted_graph(n: int, edges: list[tuple[int, int]], weights) -> ig.Graph:
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = [float(w) for w in weights]
    return g


def random_graph(n: int, p: float, seed: int) -> ig.Graph:
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in itertools.combinations(range(n), 2) if rng.random() < p]
    return weighted_graph(n, pairs, np.round(rng.random(len(pairs)), 3) + 0.01)


def brute_bottleneck(g: ig.Graph, s: int, t: int) -> float:
    for tau in sorted(set(g.es["weight"])):
        sub = g.subgraph_edges(g.es.select(weight_le=tau), delete_vertices=False)
        if sub.distances(s, t)[0][0] < math.inf:
            return tau
    return math.inf


def brute_steps(g: ig.Graph, s: int, t: int, hops: int) -> float:
    """Least largest step over simple paths with exactly ``hops`` edges (exhaustive)."""
    adj = {
        v: [(u, g.es[g.get_eid(v, u)]["weight"]) for u in g.neighbors(v)]
        for v in range(g.vcount())
    }
    best = math.inf

    def walk(v, depth, seen, big):
        nonlocal best
        if big >= best:
            return
        if depth == hops:
            if v == t:
                best = big
            return
        for u, w in adj[v]:
            if u not in seen and (u != t or depth + 1 == hops):
                walk(u, depth + 1, seen | {u}, max(big, w))

    walk(s, 0, {s}, 0.0)
    return best


def is_chain(g: ig.Graph, c: Chain, s: int, t: int) -> bool:
    v = c.vertices
    return (
        v[0] == s
        and v[-1] == t
        and len(set(v)) == len(v)
        and all(g.are_adjacent(a, b) for a, b in itertools.pairwise(v))
        and c.largest_step == pytest.approx(max(c.steps, default=0.0))
        and c.total == pytest.approx(sum(c.steps))
    )


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16)) * 4
    return (centres[rng.integers(0, 6, 300)] + rng.normal(size=(300, 16))).astype(np.float32)


@pytest.fixture(scope="module")
def pipeline_graph(points) -> ig.Graph:
    return build_graph(knn_edges(points, 8), points)


@pytest.fixture(scope="module")
def finder(pipeline_graph) -> PathFinder:
    return PathFinder(pipeline_graph)


# ------------------------------------------------------------------------------- smooth
def test_smooth_equals_the_mst_bound_when_the_graph_holds_the_mst():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    pairs = list(itertools.combinations(range(40), 2))
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    g = weighted_graph(40, pairs, [D[a, b] for a, b in pairs])  # complete graph
    T = minimum_spanning_tree(D)
    T = T + T.T
    pf = PathFinder(g, slack=0.0, floor=0.0)  # exact minimax: no slack, no natural-step floor
    for s, t in [(0, 39), (3, 17), (5, 6), (11, 30)]:
        _, pred = breadth_first_order(T, s, directed=False)
        bound, v = 0.0, t
        while v != s:
            bound, v = max(bound, D[pred[v], v]), pred[v]
        chain = pf.find(s, t, mode="smooth")[0]
        assert chain.largest_step == pytest.approx(bound, rel=1e-9)
        assert chain.bound == pytest.approx(bound, rel=1e-9)
        assert pf.bottleneck(s, t) == pytest.approx(bound, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_smooth_largest_step_is_within_slack_of_the_bottleneck(seed):
    g = random_graph(25, 0.2, seed)
    exact = PathFinder(g, slack=0.0, floor=0.0)  # the cap is the bottleneck's (no floor)
    loose = PathFinder(g, slack=0.2, floor=0.0)
    for s, t in [(0, 24), (1, 13), (7, 20)]:
        b = brute_bottleneck(g, s, t)
        if math.isinf(b):
            with pytest.raises(PathError):
                exact.find(s, t)
            continue
        c0, c1 = exact.find(s, t)[0], loose.find(s, t)[0]
        assert is_chain(g, c0, s, t) and is_chain(g, c1, s, t)
        assert c0.largest_step == pytest.approx(b)
        assert b <= c1.largest_step <= b * 1.2 + 1e-12


def test_hub_load_steers_smooth_around_a_busy_image():
    # s=0, t=3; via 1 (busy hub) slightly cheaper than via 2
    g = weighted_graph(4, [(0, 1), (1, 3), (0, 2), (2, 3)], [1.0, 1.0, 1.05, 1.05])
    assert PathFinder(g, hub_penalty=0.0).find(0, 3)[0].vertices == [0, 1, 3]
    pf = PathFinder(g, hub_penalty=100.0)
    g.vs["load"] = [0.0, 0.5, 0.0, 0.0]
    g["params"] = {"load_params": pf.load_params()}
    assert PathFinder(g, hub_penalty=100.0).find(0, 3)[0].vertices == [0, 2, 3]


def test_estimated_load_finds_the_centre_of_a_star():
    g = weighted_graph(9, [(0, i) for i in range(1, 9)], [1.0] * 8)
    load = PathFinder(g, hub_penalty=1.0).estimate_load(rounds=2, sources=8)
    assert load[0] > 0.7 and np.allclose(load[1:], 0.0)


# ------------------------------------------------------------------------------- steps
@pytest.mark.parametrize("seed", range(6))
def test_steps_is_optimal_against_brute_force(seed):
    g = random_graph(10, 0.35, seed)
    pf = PathFinder(g, steps_slack=0.0)  # exact minimax (the default trades 10% for hubs)
    slack = PathFinder(g)
    for s, t in [(0, 9), (2, 5), (4, 7)]:
        for x in range(0, 5):
            expected = brute_steps(g, s, t, x + 1)
            if math.isinf(expected):
                with pytest.raises(PathError):
                    pf.find(s, t, mode="steps", steps=x)
                continue
            chain = pf.find(s, t, mode="steps", steps=x)[0]
            assert is_chain(g, chain, s, t)
            assert len(chain.vertices) == x + 2  # exactly x intermediate images
            assert chain.largest_step == pytest.approx(expected)
            assert chain.optimal
            loose = slack.find(s, t, mode="steps", steps=x)[0]  # the default: within its slack
            assert is_chain(g, loose, s, t) and len(loose.vertices) == x + 2
            assert loose.largest_step <= expected * (1 + slack.space.steps_slack) + 1e-12


def test_steps_repairs_walks_that_repeat_an_image():
    # the best 4-edge *walk* bounces 0-1-0-1-5 (largest step 0.1); a simple chain must go
    # round: 0-1-3-4-5 (largest step 0.45)
    g = weighted_graph(
        6, [(0, 1), (1, 5), (0, 2), (2, 3), (3, 4), (4, 5), (1, 3)],
        [0.1, 0.1, 0.5, 0.4, 0.3, 0.2, 0.45],
    )
    pf = PathFinder(g)
    assert pf.walk_bounds(0, 4)[4][5] == pytest.approx(0.1)
    chain = pf.find(0, 5, mode="steps", steps=3)[0]
    assert is_chain(g, chain, 0, 5) and len(chain.vertices) == 5
    assert chain.vertices == [0, 1, 3, 4, 5]
    assert chain.largest_step == pytest.approx(brute_steps(g, 0, 5, 4)) == pytest.approx(0.45)
    assert chain.bound == pytest.approx(0.1) and chain.optimal


def test_steps_too_few_says_how_many_are_needed():
    g = weighted_graph(6, [(i, i + 1) for i in range(5)], [1.0] * 5)
    with pytest.raises(PathError, match="at least 4"):
        PathFinder(g).find(0, 5, mode="steps", steps=1)


def test_steps_reach_across_separated_clusters(pipeline_graph, finder, points):
    assert pipeline_graph["params"]["long_edges"] > 0
    for x in (2, 3, 7):
        chain = finder.find(0, 299, mode="steps", steps=x)[0]
        assert is_chain(pipeline_graph, chain, 0, 299) and len(chain.vertices) == x + 2


# ------------------------------------------------------------------------------- shortest
def test_shortest_is_the_least_sum_of_distances(pipeline_graph, finder):
    base = pipeline_graph.subgraph_edges(
        pipeline_graph.es.select(long=False), delete_vertices=False
    )
    for s, t in [(0, 299), (10, 150), (42, 43)]:
        chain = finder.find(s, t, mode="shortest")[0]
        assert is_chain(pipeline_graph, chain, s, t)
        best = base.distances(s, t, weights="weight")[0][0]
        assert chain.total == pytest.approx(best, rel=1e-9)


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize("mode", MODES)
def test_alternatives_are_distinct_valid_chains(pipeline_graph, finder, mode):
    steps = 5 if mode == "steps" else None
    chains = finder.find(3, 250, mode=mode, steps=steps, alternatives=3)
    assert len(chains) == 3
    assert len({tuple(c.vertices) for c in chains}) == 3
    for c in chains:
        assert is_chain(pipeline_graph, c, 3, 250)
    inner = [set(c.vertices[1:-1]) for c in chains]
    shared = (inner[0] & inner[1]) | ((inner[0] | inner[1]) & inner[2])
    assert shared <= finder._cut_vertices()  # new routes, sharing only unavoidable images


@pytest.mark.parametrize("mode", MODES)
def test_avoid_is_respected(finder, mode):
    steps = 4 if mode == "steps" else None
    first = finder.find(3, 250, mode=mode, steps=steps)[0]
    avoid = first.vertices[1:-1]
    again = finder.find(3, 250, mode=mode, steps=steps, avoid=avoid, alternatives=2)
    for c in again:
        assert not set(avoid) & set(c.vertices)


def test_avoid_that_disconnects_or_hits_an_end_is_an_error():
    g = weighted_graph(3, [(0, 1), (1, 2)], [1.0, 1.0])
    pf = PathFinder(g)
    with pytest.raises(PathError):
        pf.find(0, 2, avoid=[1])
    with pytest.raises(PathError):
        pf.find(0, 2, avoid=[0])
    with pytest.raises(PathError):
        pf.find(0, 2, mode="shortest", avoid=[2])


def test_same_image_and_bad_requests(finder):
    assert finder.find(5, 5)[0].vertices == [5]
    for kwargs in (
        {"mode": "fastest"},
        {"mode": "steps"},
        {"mode": "steps", "steps": -1},
        {"mode": "shortest", "steps": 3},
        {"alternatives": 0},
    ):
        with pytest.raises(PathError):
            finder.find(1, 2, **kwargs)
    with pytest.raises(PathError):
        finder.find(1, 10_000)
    assert len(finder.find(1, 2, steps=3)[0].vertices) == 5  # steps alone implies steps mode


def test_results_are_deterministic(pipeline_graph, finder):
    other = PathFinder(pipeline_graph)
    for mode, steps in (("shortest", None), ("smooth", None), ("steps", 6)):
        for s, t in [(0, 299), (17, 201)]:
            a = finder.find(s, t, mode=mode, steps=steps, alternatives=2)
            b = other.find(s, t, mode=mode, steps=steps, alternatives=2)
            assert [c.vertices for c in a] == [c.vertices for c in b]


def test_corridor_search_of_huge_graphs_keeps_the_bottleneck(monkeypatch) -> None:
    """Above LOCAL_SEARCH_ABOVE images, smooth searches a corridor around the tree path: its
    largest step is still the exact bottleneck (within the slack), and chains are valid."""
    from xdeg_pipeline.core import params as p

    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(c, 1.0, (300, 8)) for c in (0.0, 6.0, 12.0)]).astype(
        np.float32
    )
    g = build_graph(knn_edges(X, k=8), X)
    finder = PathFinder(g, floor=0.0)  # the cap is the bottleneck's (floored: paths/test_floor.py)
    pairs = [tuple(int(v) for v in rng.choice(len(X), 2, replace=False)) for _ in range(25)]
    full = [finder.find(s, t, mode="smooth")[0] for s, t in pairs]
    monkeypatch.setattr(p, "LOCAL_SEARCH_ABOVE", 10)
    for width in (1, 2):
        monkeypatch.setattr(p, "LOCAL_WIDTH", width)
        for (s, t), ref in zip(pairs, full):
            (chain,) = finder.find(s, t, mode="smooth")
            assert chain.vertices[0] == s and chain.vertices[-1] == t
            steps = [finder.step_weight(a, b) for a, b in zip(chain.vertices, chain.vertices[1:])]
            assert np.allclose(steps, chain.steps)
            bound = finder.bottleneck(s, t)
            assert bound <= chain.largest_step <= bound * (1 + finder.slack) + 1e-9
            assert ref.largest_step <= bound * (1 + finder.slack) + 1e-9
