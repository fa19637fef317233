"""Issue 21: steps sized against the chain's cap (no crawling through a series) and step costs
that stay put when unrelated images arrive."""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import shortest_path

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.load import attach_hub_load

SPREAD, SERIES = 150, 30


def _series_points(seed: int = 1, dim: int = 6) -> np.ndarray:
    """Scattered points (rows 0..SPREAD-1), then a design series: SERIES points along a segment
    about two natural steps long, consecutive members a tenth of a natural step apart (further
    apart than the near-duplicate distance given to the finders below)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(SPREAD, dim))
    d = rng.normal(size=dim)
    d /= np.linalg.norm(d)
    S = X[0] + np.linspace(0, 2.5, SERIES)[:, None] * d + 0.01 * rng.normal(size=(SERIES, dim))
    return np.concatenate([X, S]).astype(np.float32)


def _chains(finder: PathFinder, **kw) -> list:
    return [finder.find(s, t, **kw)[0] for s in range(SPREAD, SPREAD + SERIES, 6)
            for t in range(0, SPREAD, 30)]


def test_series_steps_cost_as_a_step_near_the_cap():
    """From inside a series to the rest: the plain objective walks the series in many short
    steps (each costs next to nothing at power 4.5); with ``short_step`` a series step costs
    as a step near the cap, so the chain leaves the series in few steps, under the same cap."""
    X = _series_points()
    g = build_graph(knn_edges(X, k=10), X)
    kw = {"near_dup": 0.02, "hub_penalty": 0, "fewest_steps": False}  # the cost alone
    plain = PathFinder(g, short_step=0.0, **kw)
    sized = PathFinder(g, short_step=0.35, **kw)
    assert sized.space.short_step == 0.35 * sized.scale.natural
    series = 0.35 * plain.scale.natural
    a, b = _chains(plain), _chains(sized)
    assert sum(len(c.steps) for c in b) < 0.7 * sum(len(c.steps) for c in a)
    assert sum((np.array(c.steps) < series).sum() for c in a) > 3 * len(a)
    assert sum((np.array(c.steps) < series).sum() for c in b) < sum(
        (np.array(c.steps) < series).sum() for c in a) / 10
    for c in b:
        s, t = c.vertices[0], c.vertices[-1]
        assert c.largest_step <= sized.space.cap(sized.bottleneck(s, t)) + 1e-9
    ratio = [min(c.steps) / max(c.steps) for c in b]
    assert np.percentile(ratio, 10) > np.percentile([min(c.steps) / max(c.steps) for c in a], 10)
    assert sized.space.floored(0.0) is sized.space.arc_cost  # no cap: the plain cost


def test_smooth_takes_the_fewest_steps_under_its_cap():
    """From inside a series to the rest: smooth counts steps first, so its chain has the fewest
    steps of any chain under its cap (no crawl), never more than the least-cost chain under the
    same cap, and far fewer over all the pairs."""
    X = _series_points()
    g = build_graph(knn_edges(X, k=10), X)
    fewest = PathFinder(g, near_dup=0.02, long_price=0, spare_steps=0)  # each step counts one
    cheapest = PathFinder(g, near_dup=0.02, fewest_steps=False)
    assert fewest.space.fewest_steps and not cheapest.space.fewest_steps
    a, b = _chains(cheapest), _chains(fewest)
    arcs = fewest.arcs
    for old, c in zip(a, b, strict=True):
        s, t = c.vertices[0], c.vertices[-1]
        cap = fewest.space.cap(fewest.bottleneck(s, t))
        assert c.largest_step <= cap + 1e-9
        keep = (arcs.arc_w <= cap) & arcs.base_arc & ~fewest.space.near_dup_arc
        least = shortest_path(arcs.csr(keep, np.ones(len(keep))), unweighted=True, indices=s)[t]
        assert len(c.steps) == least <= len(old.steps)
    assert sum(len(c.steps) for c in b) < 0.8 * sum(len(c.steps) for c in a)


def test_a_spare_step_is_taken_only_for_a_smaller_largest_step():
    """With ``spare_steps`` smooth takes the least-cost chain of one step more than the fewest
    where its largest step is smaller, else the fewest-step chain: never more than one step
    more, never a larger largest step, and over the pairs a smaller largest step."""
    from xdeg_pipeline.core.paths.spare import cheapest_within

    X = _series_points(seed=4)
    g = build_graph(knn_edges(X, k=10), X)
    fewest = PathFinder(g, near_dup=0.02, long_price=0, spare_steps=0)
    spare = PathFinder(g, near_dup=0.02, long_price=0, spare_steps=1)
    assert spare.space.spare(None) == 1 and spare.space.spare(np.ones(3)) == 0
    a, b = _chains(fewest), _chains(spare)
    took = 0
    for old, c in zip(a, b, strict=True):
        assert c.largest_step <= spare.space.cap(spare.bottleneck(c.vertices[0], c.vertices[-1]))
        if c.vertices != old.vertices:
            took += 1
            assert len(c.steps) == len(old.steps) + 1
            assert c.largest_step < old.largest_step
    assert took > 0
    assert np.mean([c.largest_step for c in b]) < np.mean([c.largest_step for c in a])
    # the search itself: a chain of at most that many steps, the cheapest of them
    arcs = spare.arcs
    A = arcs.csr(arcs.base_arc, arcs.arc_w.astype(np.float64))
    s, t = a[0].vertices[0], a[0].vertices[-1]
    f = len(a[0].steps)
    assert cheapest_within(A, s, t, f - 1) is None
    ways = [cheapest_within(A, s, t, h) for h in (f, f + 1, f + 3)]
    costs = [sum(arcs.steps_of(w)) for w in ways]
    assert all(len(w) - 1 <= h for w, h in zip(ways, (f, f + 1, f + 3), strict=True))
    assert costs[0] >= costs[1] >= costs[2]
    total = shortest_path(A, indices=s)[t]  # the cheapest chain of any number of steps
    assert cheapest_within(A, s, t, 200) is not None
    assert np.isclose(sum(arcs.steps_of(cheapest_within(A, s, t, 200))), total)


def test_a_step_near_the_cap_counts_as_more_than_one():
    """With ``long_price`` a step more than ``long_step`` above the least possible largest step
    counts as 1 + long_price steps: each chain has the fewest steps so counted (one more
    ordinary step rather than one near the cap), under the same cap, and its largest step is
    smaller than when every step counts as one."""
    from scipy.sparse.csgraph import dijkstra

    X = _series_points(seed=4)
    g = build_graph(knn_edges(X, k=10), X)
    plain = PathFinder(g, near_dup=0.02, long_price=0, spare_steps=0)
    priced = PathFinder(g, near_dup=0.02, long_price=1.0, long_step=0.1)
    a, b = _chains(plain), _chains(priced)
    arcs, space = priced.arcs, priced.space
    for c in b:
        s, t = c.vertices[0], c.vertices[-1]
        cap = space.cap(priced.bottleneck(s, t))
        assert c.largest_step <= cap + 1e-9
        keep = (arcs.arc_w <= cap) & arcs.base_arc & ~space.near_dup_arc
        least = dijkstra(arcs.csr(keep, space.step_units(cap)), indices=s)[t]
        assert space.counted_steps(c.steps, cap) == least
    ratio = [c.largest_step / priced.bottleneck(c.vertices[0], c.vertices[-1]) for c in b]
    before = [c.largest_step / plain.bottleneck(c.vertices[0], c.vertices[-1]) for c in a]
    assert np.mean(ratio) < np.mean(before) - 0.01
    assert sum(len(c.steps) for c in b) > sum(len(c.steps) for c in a)
    assert space.step_units(1.0) is not None and plain.space.step_units(1.0) is None


def test_the_corridor_counts_steps_first_too(monkeypatch):
    """Above LOCAL_SEARCH_ABOVE images smooth searches a corridor around the tree path; there
    too it takes no more steps than the least-cost chain of the same corridor, under the cap."""
    X = _series_points()
    g = build_graph(knn_edges(X, k=10), X)
    monkeypatch.setattr(params, "LOCAL_SEARCH_ABOVE", 10)
    fewest = PathFinder(g, near_dup=0.02)
    a = _chains(PathFinder(g, near_dup=0.02, fewest_steps=False))
    b = _chains(fewest)
    for old, c in zip(a, b, strict=True):
        s, t = c.vertices[0], c.vertices[-1]
        assert c.largest_step <= fewest.space.cap(fewest.bottleneck(s, t)) + 1e-9
        assert len(c.steps) <= len(old.steps)
    assert sum(len(c.steps) for c in b) < sum(len(c.steps) for c in a)


def test_steps_mode_avoids_series_steps_under_its_cap():
    X = _series_points()
    g = build_graph(knn_edges(X, k=10), X)
    kw = {"near_dup": 0.02, "hub_penalty": 0, "fewest_steps": False}  # the cost alone
    plain = PathFinder(g, short_step=0.0, **kw)
    sized = PathFinder(g, short_step=0.35, **kw)
    series = 0.35 * plain.scale.natural
    a, b = _chains(plain, steps=5), _chains(sized, steps=5)
    assert all(len(c.steps) == 6 for c in b)
    assert sum((np.array(c.steps) < series).sum() for c in b) < sum(
        (np.array(c.steps) < series).sum() for c in a)


def _graph(X: np.ndarray, hashes: list[str], previous=None):
    g = build_graph(knn_edges(X, k=10), X, vertex_attrs={"content_hash": hashes})
    return attach_hub_load(g, previous, basis="b")


def test_unrelated_images_leave_the_scale_and_old_costs_alone():
    """1 % far images join: the random-pair median and the natural step would both move (they
    are medians over the whole collection); the graph keeps those of the one it replaces, so the
    old edges' costs change only by one common factor and the chains stay."""
    X = _series_points()
    far = X[:3] * 0.2 + 40.0  # far from everything, near each other
    Y = np.concatenate([X, far]).astype(np.float32)
    hashes = [f"h{i}" for i in range(len(Y))]
    first = _graph(X, hashes[: len(X)])
    grown = _graph(Y, hashes, previous=first)
    fresh = _graph(Y, hashes)
    assert grown["params"]["path_scale"] == first["params"]["path_scale"]
    assert fresh["params"]["path_scale"] != first["params"]["path_scale"]
    a, b = PathFinder(first), PathFinder(grown)
    assert b.scale == a.scale
    assert b.load_params() == grown["params"]["load_params"]  # the stored load is used
    old = [(e.index, grown.get_eid(e.source, e.target, error=False)) for e in first.es
           if not e["long"]]
    both = np.array([(i, j) for i, j in old if j >= 0])
    assert len(both) > 0.9 * len(old)  # the far images took no kNN edges from the old ones
    ca, cb = a.cost[both[:, 0]], b.cost[both[:, 1]]
    assert np.allclose(cb / ca, (cb / ca)[0], rtol=1e-9)
    pairs = [(s, t) for s in range(0, len(X), 17) for t in range(5, len(X), 23) if s != t]
    assert all(a.find(s, t)[0].vertices == b.find(s, t)[0].vertices for s, t in pairs)
