"""The graph as arrays: every edge in both directions (arcs), in CSR order, with lookups.

Arc ``j`` goes from ``arc_row[j]`` to ``nbr[j]`` along edge ``arc_e[j]`` (weight ``arc_w[j]``).
Rows are sorted by tail, then neighbour id, then weight, so results are deterministic and the
first arc between two vertices is the lightest. ``base_arc`` marks the arcs of the kNN graph
(``shortest`` and ``smooth`` use only those; long-range landmark edges are for ``steps``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.lean import LeanGraph
from xdeg_pipeline.core.graph.near_duplicates import edge_ends
from xdeg_pipeline.core.paths.chain import PathError


def trace(pred: np.ndarray, s: int, t: int) -> list[int]:
    """The path s..t read backwards from a predecessor array (t must be reached from s)."""
    path = [t]
    while path[-1] != s:
        path.append(int(pred[path[-1]]))
    return path[::-1]


def _flags(values: np.ndarray | None, m: int) -> np.ndarray:
    """An edge flag as a bool array of ``m`` (all False when the graph has none)."""
    return np.zeros(m, bool) if values is None else np.asarray(values, bool)


class Arcs:
    """CSR adjacency of an igraph graph (edge attributes ``weight`` and optional ``long`` and
    ``recolour``: :mod:`xdeg_pipeline.core.graph.recolours`)."""

    def __init__(self, graph: ig.Graph) -> None:
        eu, ev = edge_ends(graph)
        m = len(eu)
        w = np.array(graph.es["weight"], dtype=np.float64) if m else np.zeros(0)
        attrs = graph.es.attributes() if m else []
        long_e = np.array(graph.es["long"], bool) if "long" in attrs else None
        recolour_e = np.array(graph.es["recolour"], bool) if "recolour" in attrs else None
        self._index(graph.vcount(), eu, ev, w, _flags(long_e, m), _flags(recolour_e, m))

    @classmethod
    def of_lean(cls, graph: LeanGraph) -> Arcs:
        """The arcs of a :class:`~xdeg_pipeline.core.graph.lean.LeanGraph` (its edge arrays)."""
        w = graph.edge_arrays["weight"] if graph.ecount() else np.zeros(0)  # required
        return cls.from_arrays(graph.vcount(), graph.eu, graph.ev, w,
                               graph.edge_arrays.get("long"), graph.edge_arrays.get("recolour"))

    @classmethod
    def from_arrays(cls, n: int, eu: np.ndarray, ev: np.ndarray, w: np.ndarray,
                    long_e: np.ndarray | None = None, recolour_e: np.ndarray | None = None
                    ) -> Arcs:
        """The arcs of ``n`` vertices and the edges ``eu[i]-ev[i]`` (weight ``w[i]``, long-range
        where ``long_e[i]``, recoloured where ``recolour_e[i]``), in edge-id order: equal to
        ``Arcs(graph)`` of the graph they make."""
        self = cls.__new__(cls)
        eu, ev = np.asarray(eu, dtype=np.int64), np.asarray(ev, dtype=np.int64)
        self._index(int(n), eu, ev, np.asarray(w, dtype=np.float64), _flags(long_e, len(eu)),
                    _flags(recolour_e, len(eu)))
        return self

    def _index(self, n: int, eu: np.ndarray, ev: np.ndarray, w: np.ndarray,
               long_e: np.ndarray, recolour_e: np.ndarray) -> None:
        """Sort the arcs into CSR order and build the lookups."""
        self.n, m = n, len(eu)
        self.eu, self.ev, self.w, self.long_e = eu, ev, w, long_e
        self.recolour_e = recolour_e
        if m and (not np.isfinite(self.w).all() or self.w.min() < 0):
            raise ValueError("edge weights must be finite and non-negative")
        rows = np.concatenate([self.eu, self.ev])
        cols = np.concatenate([self.ev, self.eu])
        # by (row, neighbour, weight), ties in edge order: two stable sorts (the weight, then
        # the row x neighbour key) give np.lexsort's order in 2/3 of its time
        order = np.argsort(np.concatenate([self.w, self.w]), kind="stable")
        key = (rows.astype(np.int64, copy=False) * n + cols)[order]
        by_key = np.argsort(key, kind="stable")
        order = order[by_key]
        self.arc_key = key[by_key]  # sorted; first match = lightest
        del key, by_key
        self.arc_row = rows[order]
        self.nbr = cols[order]
        del rows, cols
        self.arc_e = np.where(order < m, order, order - m)  # edge of each arc
        del order
        self.arc_w = self.w[self.arc_e]
        counts = np.bincount(self.arc_row, minlength=n)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.base_arc = ~self.long_e[self.arc_e]  # arcs of shortest/smooth (no long-range)
        # scipy reads stored zeros as missing edges: spanning trees add this to every weight
        self.mst_shift = 1e-9 * max(float(self.w.max(initial=0.0)), 1e-30)

    def avoided(self, near_dup: float) -> np.ndarray:
        """Per arc: a step path search avoids where it can: a near-duplicate step (shorter than
        ``near_dup``) or a recoloured one (the same drawing in other colours)."""
        return (self.arc_w < near_dup) | self.recolour_e[self.arc_e]

    def arc_of(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Index of the lightest arc a->b for each pair (-1 where not adjacent)."""
        key = np.asarray(a, dtype=np.int64) * self.n + np.asarray(b, dtype=np.int64)
        j = np.searchsorted(self.arc_key, key)
        jj = np.minimum(j, len(self.arc_key) - 1)
        found = (j < len(self.arc_key)) & (self.arc_key[jj] == key) if len(self.arc_key) else j < 0
        return np.where(found, jj, -1)

    def step_weight(self, a: int, b: int) -> float:
        """Weight of the lightest edge a-b (KeyError if not adjacent)."""
        j = int(self.arc_of(np.array([a]), np.array([b]))[0])
        if j < 0:
            raise KeyError((a, b))
        return float(self.arc_w[j])

    def steps_of(self, vertices: list[int]) -> list[float]:
        """The step distances along a chain of adjacent vertices."""
        v = np.asarray(vertices, dtype=np.int64)
        return self.arc_w[self.arc_of(v[:-1], v[1:])].tolist() if len(v) > 1 else []

    def edges_between(self, a: int, b: int) -> np.ndarray:
        """Ids of every edge a-b."""
        lo, hi = self.indptr[a], self.indptr[a + 1]
        return self.arc_e[lo:hi][self.nbr[lo:hi] == b]

    def allowed(self, ban_v: np.ndarray | None, ban_e: np.ndarray | None) -> np.ndarray:
        """Arcs that touch no banned vertex (n-mask) and lie on no banned edge (m-mask)."""
        ok = np.ones(len(self.arc_e), bool)
        if ban_v is not None:
            ok &= ~ban_v[self.arc_row] & ~ban_v[self.nbr]
        if ban_e is not None:
            ok &= ~ban_e[self.arc_e]
        return ok

    def csr(self, keep: np.ndarray, data: np.ndarray) -> csr_matrix:
        """The n x n sparse matrix of the arcs ``keep`` with values ``data`` (per arc)."""
        counts = np.bincount(self.arc_row[keep], minlength=self.n)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return csr_matrix((data[keep], self.nbr[keep], indptr), shape=(self.n, self.n))

    def cheapest_path(self, s: int, t: int, keep: np.ndarray, cost: np.ndarray) -> list[int]:
        """Least summed ``cost`` (per arc) from s to t over the arcs ``keep`` (Dijkstra)."""
        dist, pred = dijkstra(self.csr(keep, cost), indices=s, return_predecessors=True)
        if not np.isfinite(dist[t]):
            raise PathError("no chain between these images with the given constraints")
        return trace(pred, s, t)
