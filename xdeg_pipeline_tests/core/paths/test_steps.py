"""Hop-count tables of the steps mode against enumerated walks."""

from __future__ import annotations

import itertools
import math

import igraph as ig
import numpy as np
import pytest

from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.steps import walk_bounds, walk_costs


def random_graph(n: int, p: float, seed: int) -> ig.Graph:
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in itertools.combinations(range(n), 2) if rng.random() < p]
    g = ig.Graph(n=n, edges=pairs)
    g.es["weight"] = (np.round(rng.random(len(pairs)), 2) + 0.01).tolist()
    return g


def walks(g: ig.Graph, s: int, hops: int):
    """Every walk of exactly ``hops`` edges from s, as lists of edge ids."""
    out = [(s, [])]
    for _ in range(hops):
        out = [(e.target if e.source == v else e.source, es + [e.index])
               for v, es in out for e in g.es[g.incident(v)]]
    return out


@pytest.mark.parametrize("seed", range(3))
def test_walk_tables_match_enumerated_walks(seed):
    g = random_graph(7, 0.4, seed)
    finder = PathFinder(g, hub_penalty=0.0)
    w = np.array(g.es["weight"])
    cost = finder.cost  # per edge
    tau = float(np.median(w))
    for s in range(7):
        B = walk_bounds(finder.arcs, s, 4)
        C = walk_costs(finder.space, s, 4, tau, None)
        for h in range(5):
            best_b = np.full(7, math.inf)
            best_c = np.full(7, math.inf)
            for v, es in walks(g, s, h):
                best_b[v] = min(best_b[v], max(w[es], default=0.0))
                if all(w[es] <= tau):
                    best_c[v] = min(best_c[v], float(cost[es].sum()))
            np.testing.assert_array_equal(B[h], best_b)
            np.testing.assert_allclose(C[h], best_c, rtol=1e-12)
            assert (np.isfinite(C[h]) == (B[h] <= tau)).all()
