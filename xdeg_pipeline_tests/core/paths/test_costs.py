"""The step cost: a constant per step keeps chains from wading through tiny steps."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.near_duplicates import StepScale
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.costs import StepCost
from xdeg_pipeline_tests.helpers.graphs import points_with_series, weighted_graph


def _pairs(span: float, k: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.uniform(0, span, k)
    return a, rng.uniform(0, 1, k) * (span - a)  # a + b <= span


@pytest.mark.parametrize("power", [2.0, 3.0, 4.0])
def test_many_short_steps_never_cost_less_than_one_covering_them(power):
    scale, unit = StepScale(natural=0.7, near_dup=0.1), 0.5
    a, b = _pairs(2.5 * scale.near_dup)
    clamped = StepCost(power, 0.0, min_step=2.5)
    f = lambda w: clamped.step_values(w, scale, unit)  # noqa: E731
    assert (f(a) + f(b) >= f(a + b) - 1e-12).all()
    assert f(np.array([0.3]))[0] == pytest.approx((0.3 / unit) ** power)  # longer: as before
    plain = StepCost(power, 0.0)  # without the clamp, splitting a step is cheaper
    g = lambda w: plain.step_values(w, scale, unit)  # noqa: E731
    assert (g(a) + g(b) < g(a + b)).mean() > 0.9


@pytest.mark.parametrize("power", [2.0, 3.0, 4.0])
def test_with_the_step_constant_splitting_a_natural_step_never_pays(power):
    scale, unit = StepScale(natural=0.7, near_dup=0.1), 0.5
    a, b = _pairs(scale.natural)
    with_constant = StepCost(power, 0.0, step_constant=1.0)
    f = lambda w: with_constant.step_values(w, scale, unit)  # noqa: E731
    assert (f(a) + f(b) >= f(a + b) - 1e-12).all()


def test_hub_load_scales_the_whole_step_cost():
    g = build_graph(knn_edges(points_with_series(seed=2), 6), points_with_series(seed=2))
    pf = PathFinder(g, hub_penalty=0.0, step_constant=1.0)
    base = pf.cost.copy()
    load = np.zeros(pf.n)
    load[5] = 0.5
    busy = pf.step_cost.edge_costs(pf.arcs, load, pf.scale)
    touches = (pf.arcs.eu == 5) | (pf.arcs.ev == 5)
    assert np.allclose(busy, base)  # hub_penalty 0: the load changes nothing
    damped = StepCost(pf.step_cost.power, 10.0, 1.0, pf.step_cost.min_step).edge_costs(
        pf.arcs, load, pf.scale)
    assert np.allclose(damped[touches], base[touches] * (1 + 10.0 * 0.25))
    assert np.allclose(damped[~touches], base[~touches])


def test_a_chain_along_a_series_takes_few_steps_with_the_clamped_cost():
    X = points_with_series(seed=3)
    g = build_graph(knn_edges(X, 8), X)
    s, t = 200, 319  # the two ends of the series
    wading = PathFinder(g, step_constant=0.0, min_step=0.0, floor=0.0, near_dup_fraction=0.0)
    natural = PathFinder(g, step_constant=0.0, min_step=2.5, floor=1.0, near_dup_fraction=0.1)
    a, b = wading.find(s, t)[0], natural.find(s, t)[0]
    assert b.hops < a.hops / 2
    assert b.largest_step <= natural.space.cap(natural.bottleneck(s, t)) + 1e-9


def test_steps_mode_is_hub_damped_within_its_slack():
    # s=0, t=4, exactly 3 intermediate images: route A 0-1-2-3-4 (largest step 1.0, through the
    # busy image 2) or route B 0-5-6-7-4 (largest 1.04)
    g = weighted_graph(
        8,
        [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 4)],
        [1.0, 1.0, 1.0, 1.0, 1.04, 1.04, 1.04, 1.04],
    )
    exact = PathFinder(g, hub_penalty=100.0, steps_slack=0.0)
    g.vs["load"] = [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    g["params"] = {"load_params": exact.load_params()}
    exact = PathFinder(g, hub_penalty=100.0, steps_slack=0.0)
    damped = PathFinder(g, hub_penalty=100.0, steps_slack=0.05)
    plain = PathFinder(g, hub_penalty=0.0, steps_slack=0.05)
    assert exact.find(0, 4, steps=3)[0].vertices == [0, 1, 2, 3, 4]  # exact minimax
    assert plain.find(0, 4, steps=3)[0].vertices == [0, 1, 2, 3, 4]  # cheapest, no hub cost
    chain = damped.find(0, 4, steps=3)[0]
    assert chain.vertices == [0, 5, 6, 7, 4]  # the hub is avoided within the slack
    assert chain.largest_step <= chain.bound * 1.05 and not chain.optimal
