"""Issue 21: a short series step is skipped where the images around it are near enough."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.distances import pair_distances
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.chain import PathError
from xdeg_pipeline.core.paths.pinned import better_than, chain_cost, check_pinned
from xdeg_pipeline.core.paths.skip import skip_short_steps


def _line(xs: list[float]):
    """Points on a line and the distance between rows."""
    X = np.array(xs, dtype=np.float64)[:, None]
    return lambda u, v: np.abs(X[u, 0] - X[v, 0])


def test_a_short_step_goes_when_its_neighbours_are_within_the_largest():
    measure = _line([0.0, 0.1, 1.0, 2.0])  # 0 -> 1 is short; 0 -> 2 (1.0) = the largest step
    v, w = skip_short_steps([0, 1, 2, 3], [0.1, 0.9, 1.0], measure, share=0.4)
    assert v == [0, 2, 3]
    assert w == pytest.approx([1.0, 1.0])


def test_nothing_goes_that_would_make_a_larger_step():
    measure = _line([0.0, 0.1, 1.2, 2.2])  # 0 -> 2 would be 1.2 > the largest step 1.1
    assert skip_short_steps([0, 1, 2, 3], [0.1, 1.1, 1.0], measure, share=0.4) == (
        [0, 1, 2, 3], [0.1, 1.1, 1.0])


def test_only_short_steps_go_and_the_ends_stay():
    measure = _line([0.0, 0.5, 1.0, 1.5, 2.0])  # even steps: none under 0.4 x the largest
    v = [0, 1, 2, 3, 4]
    assert skip_short_steps(v, [0.5] * 4, measure, share=0.4)[0] == v
    assert skip_short_steps(v, [0.5] * 4, measure, share=1.01)[0] == v  # 0 -> 2: 1.0 > 0.5
    assert skip_short_steps(v, [0.5] * 4, measure, share=0.0)[0] == v  # off
    assert skip_short_steps([0, 1], [0.5], measure, share=1.0)[0] == [0, 1]
    zigzag = _line([0.0, 0.5, 0.25, 0.7])  # 0 -> 2 is 0.25, 1 -> 3 is 0.2: 2 goes
    assert skip_short_steps([0, 1, 2, 3], [0.5, 0.25, 0.45], zigzag, share=0.7) == (
        [0, 1, 3], [0.5, pytest.approx(0.2)])


def test_one_image_stays_between_the_ends():
    """Any step may go (share 1), but a chain keeps one image between its ends: a single step
    that is no edge could not be told apart from the chain when an alternative is asked for."""
    D = np.full((4, 4), 0.5)  # every pair as far apart as every step: any image could go

    def measure(u, v):
        return D[np.asarray(u), np.asarray(v)]

    v, w = skip_short_steps([0, 1, 2, 3], [0.5, 0.5, 0.5], measure, share=1.01)
    assert len(v) == 3 and v[0] == 0 and v[-1] == 3 and w == pytest.approx([0.5, 0.5])
    assert skip_short_steps([0, 1, 3], [0.5, 0.5], measure, share=1.01)[0] == [0, 1, 3]


def test_no_near_duplicate_step_is_made():
    measure = _line([0.0, 0.1, 0.01, 1.0])  # skipping 1 would step 0 -> 2: 0.01
    v, _ = skip_short_steps([0, 1, 2, 3], [0.1, 0.09, 0.99], measure, share=0.4, near_dup=0.05)
    assert v == [0, 1, 3]  # 2 went instead (1 -> 3: 0.9), and 0 -> 1 stays


SPREAD, SERIES = 150, 40


def _series_off_the_side(seed: int = 1, dim: int = 6) -> np.ndarray:
    """Scattered points (rows 0..SPREAD-1; natural step about 1), then a design series about a
    natural step from one of them: SERIES points 0.01 apart on a line, so that each member's
    ten nearest are members and the rest reach the series through a few of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(SPREAD, dim))
    d = rng.normal(size=dim)
    d /= np.linalg.norm(d)
    S = X[0] + (1.0 + 0.01 * np.arange(SERIES))[:, None] * d
    S += 0.002 * rng.normal(size=S.shape)
    return np.concatenate([X, S]).astype(np.float32)


def _finders(**kw):
    X = _series_off_the_side()
    g = build_graph(knn_edges(X, k=10), X)
    kw = {"near_dup": 0.005, **kw}
    return X, PathFinder(g, **kw), PathFinder(g, vectors=X, **kw)


def _pairs() -> list[tuple[int, int]]:
    return [(s, t) for s in range(SPREAD, SPREAD + SERIES, 4) for t in range(0, SPREAD, 15)]


def test_chains_out_of_a_series_skip_its_steps_with_the_vectors():
    """From inside a series the graph reaches the rest only through its ends; with the
    vectors the chain leaves from where it starts when that is no larger a step."""
    X, plain, skipping = _finders(skip_short=0.4)
    a = [plain.find(s, t)[0] for s, t in _pairs()]
    b = [skipping.find(s, t)[0] for s, t in _pairs()]
    fewer = sum(len(y.vertices) < len(x.vertices) for x, y in zip(a, b, strict=True))
    assert fewer >= 10
    for x, y in zip(a, b, strict=True):
        assert set(y.vertices) <= set(x.vertices)
        assert (y.vertices[0], y.vertices[-1]) == (x.vertices[0], x.vertices[-1])
        assert y.largest_step <= x.largest_step + 1e-6
        v = np.array(y.vertices)
        assert y.steps == pytest.approx(pair_distances(X, v[:-1], v[1:], "l2").tolist(), rel=1e-5)
    short = np.percentile([min(c.steps) / max(c.steps) for c in a], 10)
    assert np.percentile([min(c.steps) / max(c.steps) for c in b], 10) > 2 * short
    assert PathFinder(plain.graph, vectors=X, near_dup=0.005, skip_short=0).find(
        SPREAD + SERIES - 1, 0)[0].vertices == plain.find(SPREAD + SERIES - 1, 0)[0].vertices


def test_a_skipped_chain_is_measured_where_it_is_checked():
    """A chain with a skipped step (no edge) holds as a pinned chain, costs what its steps
    cost, and the finder without vectors says it cannot measure such a step."""
    X, plain, skipping = _finders(skip_short=0.4)
    chains = [skipping.find(s, t)[0] for s, t in _pairs()]
    c = next(c for c in chains
             if (skipping.arcs.arc_of(np.array(c.vertices[:-1]), np.array(c.vertices[1:]))
                 < 0).any())
    s, t = c.vertices[0], c.vertices[-1]
    kept, why = check_pinned(skipping.space, c.vertices, s, t, "smooth")
    assert why == "" and kept.steps == pytest.approx(c.steps)
    assert chain_cost(skipping.space, c.vertices) > 0
    assert not better_than(skipping.space, c, kept, "smooth")
    assert check_pinned(plain.space, c.vertices, s, t, "smooth")[0] is None  # cannot measure
    with pytest.raises(PathError, match="no vectors"):
        plain.space.pair_lengths(np.array([s]), np.array([t]))


def test_vectors_must_be_one_row_per_vertex():
    X, _, _ = _finders()
    g = build_graph(knn_edges(X, k=10), X)
    with pytest.raises(ValueError, match="one row per vertex"):
        PathFinder(g, vectors=X[:-1])
