"""Small graphs and point sets for path-search tests."""

from __future__ import annotations

import igraph as ig
import numpy as np


def weighted_graph(n: int, edges: list[tuple[int, int]], weights) -> ig.Graph:
    """An undirected igraph graph with edge attribute ``weight``."""
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = [float(w) for w in weights]
    return g


def points_with_series(seed: int = 0, spread: int = 200, series: int = 120,
                       dim: int = 8) -> np.ndarray:
    """``spread`` scattered points (rows 0..spread-1) and then a dense *series*: ``series``
    points along a segment as long as the typical gap between scattered points, each a tiny
    step from the last (a near-continuous family, like one object photographed from many
    angles)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(spread, dim))
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    along = np.linspace(0.0, 3.0, series)[:, None] * direction
    S = X[0] + 0.5 + along + 0.002 * rng.normal(size=(series, dim))
    return np.concatenate([X, S]).astype(np.float32)
