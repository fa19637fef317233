"""Recoloured steps: graph edges between two colourings of one drawing.

Two images whose outlines (:mod:`xdeg_pipeline.core.images.outline`) are within
``params.RECOLOUR_DISTANCE`` (cosine distance) show the same edges in the same places, whatever
the colours; the edges joining such pairs make *recolour groups* (connected components). An
edge is *recoloured* when both its images are in one group. Path search treats such a step as
it treats a near-duplicate step (:meth:`xdeg_pipeline.core.paths.arcs.Arcs.avoided`): taken
only where no chain under the cap avoids it, or between two images of one group. The evidence
for the distance is in :mod:`xdeg_pipeline.core.params`.
"""

from __future__ import annotations

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.near_duplicates import edge_ends


def _dots(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two uint8 matrices, exact in int32 (576 x 255 x 255 fits): 30 x
    faster than through float32 copies."""
    return np.einsum("ij,ij->i", x, y, dtype=np.int32, casting="unsafe").astype(np.float64)


def _cosine(dot: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """Cosine distance from dot products and norms; 1 where either norm is 0 (no edges)."""
    ok = (na > 0) & (nb > 0)
    out = np.ones(len(dot), dtype=np.float32)
    out[ok] = np.maximum(1.0 - dot[ok] / (na[ok] * nb[ok]), 0.0)
    return out


def outline_distances(outline: np.ndarray, a: np.ndarray, b: np.ndarray,
                      chunk: int = 1 << 16) -> np.ndarray:
    """Cosine distance between the outlines (uint8 rows of ``outline``) ``a[i]`` and ``b[i]``;
    1 where either has no edges. Each row's norm once, then the pairs' dot products, their rows
    gathered a chunk at a time (30 million edges would otherwise copy 17 GB of outlines) by
    ``np.take``: 30 x faster than fancy indexing on 576-byte rows."""
    norms = np.empty(len(outline), dtype=np.float64)
    for lo in range(0, len(outline), chunk):
        rows = outline[lo:lo + chunk]
        norms[lo:lo + chunk] = np.sqrt(_dots(rows, rows))
    out = np.empty(len(a), dtype=np.float32)
    for lo in range(0, len(a), chunk):
        ia, ib = a[lo:lo + chunk], b[lo:lo + chunk]
        rows_a, rows_b = np.take(outline, ia, axis=0), np.take(outline, ib, axis=0)
        out[lo:lo + chunk] = _cosine(_dots(rows_a, rows_b), norms[ia], norms[ib])
    return out


def recolour_groups(n: int, eu: np.ndarray, ev: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Per image: its *recolour group*, the connected component of the ``close`` edges it is
    in (numbered 0.. in order of their first image), -1 for an image in none."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    close = np.asarray(close, dtype=bool)
    out = np.full(n, -1, dtype=np.int64)
    if not close.any():
        return out
    eu, ev = np.asarray(eu)[close], np.asarray(ev)[close]
    adjacency = coo_matrix((np.ones(len(eu), dtype=np.int8), (eu, ev)), shape=(n, n))
    _, label = connected_components(adjacency, directed=False)
    grouped = np.bincount(label)[label] > 1
    _, first = np.unique(label[grouped], return_inverse=True)
    out[grouped] = first
    return out


def recoloured_edges(eu: np.ndarray, ev: np.ndarray, outline: np.ndarray, has: np.ndarray,
                     limit: float | None = None) -> np.ndarray:
    """Per edge ``eu[i]-ev[i]``: True where its two images are in one recolour group: joined
    by edges whose outlines are within ``limit`` (default ``params.RECOLOUR_DISTANCE``; both
    images must have an outline, ``has``). A group holds every colouring of a drawing even
    where two of them are further apart (an emoji's five skin tones, each with its gender
    variants), so a chain cannot cross it in steps that each change a little more."""
    limit = params.RECOLOUR_DISTANCE if limit is None else float(limit)
    eu, ev = np.asarray(eu, dtype=np.int64), np.asarray(ev, dtype=np.int64)
    both = np.flatnonzero(has[eu] & has[ev])
    close = np.zeros(len(eu), dtype=bool)
    if limit <= 0 or not len(both):
        return close
    close[both] = outline_distances(outline, eu[both], ev[both]) <= limit
    group = recolour_groups(len(has), eu, ev, close)
    return (group[eu] >= 0) & (group[eu] == group[ev])


def mark_recoloured(graph: ig.Graph, outline: np.ndarray, has: np.ndarray,
                    limit: float | None = None) -> int:
    """Set the edge attribute ``recolour`` (:func:`recoloured_edges`) and
    ``graph["params"]["recoloured_edges"]``; returns how many edges are recoloured."""
    eu, ev = edge_ends(graph)
    flags = recoloured_edges(eu, ev, outline, has, limit)
    graph.es["recolour"] = flags.tolist()
    count = int(flags.sum())
    graph["params"]["recoloured_edges"] = count
    return count
