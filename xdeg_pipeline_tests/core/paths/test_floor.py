"""smooth's cap: the bottleneck, never below the natural step (times 1 + slack)."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline_tests.helpers.graphs import points_with_series


@pytest.mark.parametrize("corridor", [False, True])
def test_smooth_stays_under_the_floored_cap(monkeypatch, corridor):
    X = points_with_series(seed=6)
    g = build_graph(knn_edges(X, k=8), X)
    finder = PathFinder(g)
    natural, slack = finder.scale.natural, finder.slack
    assert finder.space.floor == params.NATURAL_FLOOR > 0
    if corridor:
        monkeypatch.setattr(params, "LOCAL_SEARCH_ABOVE", 10)
    rng = np.random.default_rng(0)
    pairs = [(200, 319)] + [tuple(int(v) for v in rng.choice(len(X), 2, replace=False))
                            for _ in range(20)]
    for s, t in pairs:
        (chain,) = finder.find(s, t)
        b = finder.bottleneck(s, t)
        cap = finder.space.cap(b)
        assert cap == pytest.approx(max(b, params.NATURAL_FLOOR * natural) * (1 + slack))
        assert b <= chain.largest_step <= cap + 1e-9


def test_step_floor_crosses_a_series_in_fewer_steps_under_the_same_cap():
    """With ``step_floor``, a step under that share of the cap costs as one that long: across a
    series the chain takes the fewest steps its cap allows instead of many short ones."""
    X = points_with_series(seed=6, series=40)
    g = build_graph(knn_edges(X, k=20), X)
    plain = PathFinder(g, step_floor=0.0, fewest_steps=False)  # the floor under the plain cost
    floored = PathFinder(g, step_floor=0.7, fewest_steps=False)
    assert plain.space.step_floor == 0.0 and floored.space.step_floor == 0.7
    s, t = 200, 239  # the two ends of the series
    (a,), (b,) = plain.find(s, t), floored.find(s, t)
    assert len(b.vertices) < len(a.vertices)
    assert b.largest_step <= floored.space.cap(floored.bottleneck(s, t)) + 1e-9
    assert min(b.steps) / max(b.steps) > min(a.steps) / max(a.steps)
    assert floored.space.floored(0.0) is floored.space.arc_cost  # no cap: the plain cost
