"""Bottleneck tables (binary lifting on the minimum spanning forest) against brute force."""

from __future__ import annotations

import itertools
import math

import igraph as ig
import numpy as np
import pytest

from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import PathError
from xdeg_pipeline.core.paths.tree import BottleneckTree, _depths, masked_bottleneck


def random_graph(n: int, p: float, seed: int, multi: bool = False) -> ig.Graph:
    """Random weighted graph; weights rounded so that ties (and zeros) occur."""
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in itertools.combinations(range(n), 2) if rng.random() < p]
    if multi:  # parallel edges with other weights
        pairs += [pairs[i] for i in rng.choice(len(pairs), len(pairs) // 4, replace=False)]
    g = ig.Graph(n=n, edges=pairs)
    g.es["weight"] = np.round(rng.random(len(pairs)), 1).tolist()
    return g


def brute_minimax(g: ig.Graph, s: int, t: int, banned: frozenset = frozenset()) -> float:
    """Least largest step over all s-t paths: the least tau whose edges <= tau join s and t."""
    if s == t:
        return 0.0
    for tau in sorted(set(g.es["weight"])):
        keep = [e.index for e in g.es if e["weight"] <= tau and not set(e.tuple) & banned]
        sub = g.subgraph_edges(keep, delete_vertices=False)
        if sub.distances(s, t)[0][0] < math.inf:
            return tau
    return math.inf


@pytest.mark.parametrize(
    ("seed", "p", "multi"), [(0, 0.15, False), (1, 0.3, True), (2, 0.08, False)]
)
def test_bottleneck_of_every_pair_is_the_brute_force_minimax(seed, p, multi):
    g = random_graph(18, p, seed, multi)  # p=0.08: a forest of several trees
    tree = BottleneckTree(Arcs(g))
    for s, t in itertools.product(range(18), repeat=2):
        assert tree.bottleneck(s, t) == brute_minimax(g, s, t), (s, t)


def test_tree_path_is_a_minimax_path():
    g = random_graph(30, 0.2, 3)
    arcs = Arcs(g)
    tree = BottleneckTree(arcs)
    for s, t in itertools.combinations(range(30), 2):
        if tree.comp[s] != tree.comp[t]:
            with pytest.raises(PathError):
                tree.path(s, t)
            continue
        path = tree.path(s, t)
        assert path[0] == s and path[-1] == t and len(set(path)) == len(path)
        assert max(arcs.steps_of(path)) == tree.bottleneck(s, t)


def test_deep_tree_uses_every_lifting_level():
    n = 300  # a path graph: depth 299 needs 9 levels of 2^j ancestors
    rng = np.random.default_rng(4)
    w = rng.random(n - 1)
    g = ig.Graph(n=n, edges=[(i, i + 1) for i in range(n - 1)])
    g.es["weight"] = w.tolist()
    tree = BottleneckTree(Arcs(g))
    assert tree.up.shape[0] == 9
    for s, t in rng.integers(0, n, size=(200, 2)):
        lo, hi = sorted((int(s), int(t)))
        expected = float(w[lo:hi].max()) if hi > lo else 0.0
        assert tree.bottleneck(int(s), int(t)) == expected
        assert tree.path(int(s), int(t)) == list(range(int(s), int(t) + (1 if t >= s else -1),
                                                       1 if t >= s else -1))


def test_long_range_edges_stay_out_of_the_tree():
    g = ig.Graph(n=3, edges=[(0, 1), (1, 2), (0, 2)])
    g.es["weight"] = [1.0, 1.0, 0.1]
    g.es["long"] = [False, False, True]
    tree = BottleneckTree(Arcs(g))
    assert tree.bottleneck(0, 2) == 1.0  # not 0.1: the landmark edge is not a kNN step


@pytest.mark.parametrize("seed", range(3))
def test_masked_bottleneck_is_the_minimax_without_the_banned_images(seed):
    g = random_graph(16, 0.3, seed)
    arcs = Arcs(g)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        s, t, *ban = (int(v) for v in rng.choice(16, 5, replace=False))
        ban_v = np.zeros(16, bool)
        ban_v[ban] = True
        got = masked_bottleneck(arcs, s, t, arcs.allowed(ban_v, None))
        assert got == brute_minimax(g, s, t, frozenset(ban))


def test_graph_without_edges():
    g = ig.Graph(n=3)
    g.es["weight"] = []
    tree = BottleneckTree(Arcs(g))
    assert tree.bottleneck(0, 0) == 0.0 and tree.bottleneck(0, 2) == math.inf


def test_depths_of_a_rooted_forest_count_the_steps_to_its_root():
    rng = np.random.default_rng(3)
    n = 60
    parent = np.arange(n)
    for v in range(1, n):  # a random forest: each vertex's parent comes earlier (or is itself)
        parent[v] = rng.integers(0, v) if rng.random() < 0.9 else v
    expected = [0] * n
    for v in range(n):
        u = v
        while parent[u] != u:
            expected[v] += 1
            u = parent[u]
    assert _depths(parent).tolist() == expected
