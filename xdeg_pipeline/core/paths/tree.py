"""Least possible largest step (bottleneck) between two images, from the minimum spanning tree.

The bottleneck of s and t is the largest edge on their path in the minimum spanning forest of
the kNN edges (a minimax path property). :class:`BottleneckTree` roots every tree of that forest
and keeps binary-lifting tables (the 2^j-th ancestor of each vertex and the largest edge on the
way), so a bottleneck is read in O(log n) and a tree path by parent pointers.
:func:`masked_bottleneck` answers the same question with some arcs removed (``avoid``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from xdeg_pipeline.core.paths.arcs import Arcs, trace
from xdeg_pipeline.core.paths.chain import PathError


def _spanning_forest(arcs: Arcs) -> tuple[np.ndarray, np.ndarray]:
    """Edges (tu, tv) of the minimum spanning forest of the kNN edges (long-range left out)."""
    n, eu, ev, w = arcs.n, arcs.eu, arcs.ev, arcs.w
    key = np.minimum(eu, ev) * n + np.maximum(eu, ev)
    key = np.where(arcs.long_e, -1, key)  # long-range edges stay out of the tree
    order = np.lexsort((w, key))
    order = order[key[order] >= 0]
    first = order[np.concatenate([[True], key[order][1:] != key[order][:-1]])]  # lightest
    A = csr_matrix((w[first] + arcs.mst_shift, (eu[first], ev[first])), shape=(n, n))
    T = minimum_spanning_tree(A).tocoo()
    return T.row.astype(np.int64), T.col.astype(np.int64)


def _rooted(arcs: Arcs, sym: csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parent, weight of the edge to the parent, and depth of each vertex (roots: themselves).

    Each tree is rooted at its lowest vertex id and walked breadth first.
    """
    n = arcs.n
    parent = np.arange(n)
    upw = np.zeros(n)
    seen = np.zeros(n, bool)
    for root in range(n):
        if seen[root]:
            continue
        order_, pred = breadth_first_order(sym, root, directed=False)
        seen[order_] = True
        kids = order_[1:]
        parent[kids] = pred[kids]
        upw[kids] = arcs.arc_w[arcs.arc_of(parent[kids], kids)]  # exact weights
    return parent, upw, _depths(parent)


def _depths(parent: np.ndarray) -> np.ndarray:
    """Depth of every vertex of a rooted forest (roots: their own parent), by pointer jumping
    on arrays (O(n log depth)), not a Python loop over the vertices."""
    depth = (parent != np.arange(len(parent))).astype(np.int64)
    anc = parent.copy()
    while True:  # depth[v] += depth[anc[v]]; anc[v] = anc[anc[v]]
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            return depth
        depth = depth + depth[anc]
        anc = nxt


class BottleneckTree:
    """Minimum spanning forest, rooted, with binary-lifting max-edge tables."""

    def __init__(self, arcs: Arcs) -> None:
        n = arcs.n
        if n and len(arcs.w):
            tu, tv = _spanning_forest(arcs)
            sym = csr_matrix((np.ones(2 * len(tu)), (np.r_[tu, tv], np.r_[tv, tu])), shape=(n, n))
            _, self.comp = connected_components(sym, directed=False)
            parent, upw, depth = _rooted(arcs, sym)
        else:
            self.comp = np.arange(n)
            parent, upw, depth = np.arange(n), np.zeros(n), np.zeros(n, dtype=np.int64)
        levels = max(1, int(math.ceil(math.log2(max(int(depth.max(initial=0)), 1) + 1))))
        up = np.empty((levels, n), dtype=np.int64)
        mx = np.empty((levels, n), dtype=np.float64)
        up[0], mx[0] = parent, upw
        for j in range(1, levels):
            up[j] = up[j - 1][up[j - 1]]
            mx[j] = np.maximum(mx[j - 1], mx[j - 1][up[j - 1]])
        self.up, self.mx, self.depth = up, mx, depth
        self._parent_list: list[int] | None = None  # python lists for tree_path, made on use
        self._depth_list: list[int] = []

    def bottleneck(self, s: int, t: int) -> float:
        """Least possible largest step between s and t in the graph (inf if disconnected)."""
        if s == t:
            return 0.0
        if self.comp[s] != self.comp[t]:
            return math.inf
        up, mx, depth = self.up, self.mx, self.depth
        a, b, best = s, t, 0.0
        if depth[a] < depth[b]:
            a, b = b, a
        diff, j = int(depth[a] - depth[b]), 0
        while diff:
            if diff & 1:
                best = max(best, mx[j, a])
                a = up[j, a]
            diff >>= 1
            j += 1
        if a == b:
            return float(best)
        for j in range(up.shape[0] - 1, -1, -1):
            if up[j, a] != up[j, b]:
                best = max(best, mx[j, a], mx[j, b])
                a, b = up[j, a], up[j, b]
        return float(max(best, mx[0, a], mx[0, b]))

    def path(self, s: int, t: int) -> list[int]:
        """The s-t path in the minimum spanning tree (a minimax path), by parent pointers."""
        if self.comp[s] != self.comp[t]:
            raise PathError("no chain between these images")
        if self._parent_list is None:
            self._parent_list = self.up[0].tolist()
            self._depth_list = self.depth.tolist()
        parent, depth = self._parent_list, self._depth_list
        left, right = [s], [t]
        a, b = s, t
        while depth[a] > depth[b]:
            a = parent[a]
            left.append(a)
        while depth[b] > depth[a]:
            b = parent[b]
            right.append(b)
        while a != b:
            a, b = parent[a], parent[b]
            left.append(a)
            right.append(b)
        return left + right[-2::-1]


def masked_bottleneck(arcs: Arcs, s: int, t: int, allowed: np.ndarray) -> float:
    """Bottleneck using only the arcs ``allowed``: the MST of what is left, then its s-t path."""
    T = minimum_spanning_tree(arcs.csr(allowed, arcs.arc_w + arcs.mst_shift))
    _, pred = breadth_first_order(T, s, directed=False)
    if pred[t] < 0:
        return math.inf
    c = np.array(trace(pred, s, t))
    return float(arcs.arc_w[arcs.arc_of(c[:-1], c[1:])].max())
