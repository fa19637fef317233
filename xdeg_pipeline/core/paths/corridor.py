"""Smooth chains on huge graphs: the least-cost search confined to a corridor.

The corridor is the minimum-spanning-tree path between s and t (whose largest step is the
bottleneck), its neighbours (``params.LOCAL_WIDTH`` rings) and the edges at them. The work is
proportional to the tree path's length times the degree, not to the graph; chains may leave
the tree path one image at a time, and the largest step stays within the cap.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from xdeg_pipeline.core import params
from xdeg_pipeline.core.arrays import segments
from xdeg_pipeline.core.paths.arcs import Arcs, trace
from xdeg_pipeline.core.paths.fewest import fewest_steps_search
from xdeg_pipeline.core.paths.search import Query, SearchSpace
from xdeg_pipeline.core.paths.spare import with_spare_steps


def smooth_chain(space: SearchSpace, q: Query, b: float) -> list[int]:
    """smooth's chain under the cap of ``b`` within the corridor of the tree path."""
    cap = space.cap(b)
    P = np.array(space.tree.path(q.s, q.t), dtype=np.int64)
    for _ in range(params.LOCAL_ROUNDS):
        P = corridor_chain(space, P, q, cap, b)
    return P.tolist()


def arcs_at(arcs: Arcs, P: np.ndarray, cap: float) -> np.ndarray:
    """Arcs (<= cap, no long-range) leaving the vertices P, grouped by P's order."""
    idx = segments(arcs.indptr[P], arcs.indptr[P + 1])
    return idx[(arcs.arc_w[idx] <= cap) & arcs.base_arc[idx]]


def corridor_chain(space: SearchSpace, P: np.ndarray, q: Query, cap: float,
                   bound: float = 0.0) -> np.ndarray:
    """smooth's chain (edges <= cap; the fewest steps, then the least cost, and a spare step
    for a smaller largest step above ``bound``, as in :mod:`.smooth`) among P, its neighbours
    and the edges at P.

    Linear in the corridor's arcs (no sorting): vertices are marked in an n-sized mask and
    renumbered through a reusable n-sized map; the CSR is built straight from the arcs,
    which arrive grouped by their (sorted) tail, and searched as an undirected graph.
    """
    arcs = space.arcs
    mark = np.zeros(space.n, bool)
    mark[P] = True
    if params.LOCAL_WIDTH > 1:
        mark[arcs.nbr[arcs_at(arcs, P, cap)]] = True
    P = np.flatnonzero(mark)  # sorted, so the arcs below come grouped by tail
    idx = arcs_at(arcs, P, cap)
    mark[arcs.nbr[idx]] = True
    nodes = np.flatnonzero(mark)
    local = space.vertex_map()
    local[nodes] = np.arange(len(nodes), dtype=np.int32)
    src, dst = int(local[q.s]), int(local[q.t])

    def searched(sel: np.ndarray) -> csr_matrix:
        tails = local[arcs.arc_row[sel]]  # non-decreasing: P is sorted, arcs grouped by it
        indptr = np.concatenate([[0], np.cumsum(np.bincount(tails, minlength=len(nodes)))])
        return csr_matrix((space.arc_costs(q, sel, cap), local[arcs.nbr[sel]], indptr),
                          shape=(len(nodes), len(nodes)))

    if space.fewest_first(q):  # as smooth does (smooth.py)
        counted = idx[space.counted_arcs()[idx]]
        A, units = searched(counted), space.step_units(cap, counted)
        path, from_s = fewest_steps_search(A, src, dst, directed=False, units=units)
        if path is not None:
            if space.spare(units) > 0:  # both ways, as the spare step's search reads arcs
                path = with_spare_steps(A.maximum(A.T).tocsr(), path, space.spare(units),
                                        lambda p: space.largest_step(nodes[np.array(p)]),
                                        from_s, bound)
            return nodes[np.array(path)]
    _, pred = dijkstra(searched(idx), directed=False, indices=src, return_predecessors=True)
    return nodes[np.array(trace(pred, src, dst))]
