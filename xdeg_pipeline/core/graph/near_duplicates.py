"""Near-duplicates: images a viewer would call the same picture, as a fact of the graph.

Two distances describe a collection, both in the graph's space:

* the *near-duplicate distance*: ``params.NEAR_DUP_FRACTION`` times the median distance between
  two images drawn at random (``pair_median``, stored by ``build_graph`` in
  ``graph["params"]``). Below it two images differ less than a picture and its barely edited
  copy usually do: the fraction is measured with ``benchmarks.same_picture`` (JPEG
  re-encoding, 5% zoom, 3% shift, 3 degree rotation, 5% brightness), where the median edit
  moved an image by 0.113-0.148 random-pair medians on Tux Paint, OpenMoji and the uneven
  collection. Normalised CNN features put unrelated images at a stable distance, so this
  scale does not depend on how crowded the collection is, while nearest-neighbour distances
  do: a series of near-identical pictures, or OpenMoji's skin tones, pull them down;
* the *natural step*: the median distance from an image to its nearest neighbour over the
  images that are not near-duplicates of their nearest neighbour (so a series of hundreds of
  variants does not shrink it).

Near-duplicate *groups* are the connected components of the kNN edges shorter than the
near-duplicate distance (single linkage: a series of small variations forms one group, even
where its ends differ more). Path search never spends a step shorter than the near-duplicate
distance unless the source or the target requires it (:mod:`xdeg_pipeline.core.paths`). A graph
without a stored ``pair_median`` (built before this was measured) has no near-duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.distances import pair_distances
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.lean import LeanGraph, stored_params
from xdeg_pipeline.core.graph.sampling import ranked_pairs, vertex_keys


@dataclass(frozen=True)
class StepScale:
    """The natural step and the near-duplicate distance of a collection (graph space)."""

    natural: float
    near_dup: float

    def as_dict(self) -> dict:
        return {"natural_step": self.natural, "near_duplicate_distance": self.near_dup}


def edge_ends(graph: ig.Graph) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of every edge of ``graph`` as int64 arrays, in edge-id order (read through one
    flat iterator, not as an array built from Python tuples)."""
    m = graph.ecount()
    flat = np.fromiter(chain.from_iterable(graph.get_edgelist()), dtype=np.int64, count=2 * m)
    return flat[0::2].copy(), flat[1::2].copy()


def knn_edges_of(graph: ig.Graph | LeanGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ends and weights of the graph's kNN edges (long-range landmark edges left out), of an
    igraph graph or of its lean form (arrays already)."""
    m = graph.ecount()
    if isinstance(graph, LeanGraph):
        eu, ev = graph.eu, graph.ev
        edges = graph.edge_arrays
        w = np.asarray(edges["weight"], dtype=np.float64) if m else np.zeros(0)
        long = edges.get("long")
    else:
        eu, ev = edge_ends(graph)
        w = np.array(graph.es["weight"], dtype=np.float64) if m else np.zeros(0)
        long = graph.es["long"] if m and "long" in graph.es.attributes() else None
    if m and long is not None:
        keep = ~np.asarray(long, bool)
        eu, ev, w = eu[keep], ev[keep], w[keep]
    return eu, ev, w


def nearest_distances(n: int, eu: np.ndarray, ev: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each vertex's shortest incident edge (inf for a vertex without edges)."""
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, eu, w)
    np.minimum.at(nearest, ev, w)
    return nearest


def pair_median(X: np.ndarray, metric: str, samples: int | None = None, seed: int = 0,
                keys: np.ndarray | None = None) -> float:
    """Median distance between pairs of different rows of X (0 below 2 rows), drawn by the
    rows' ``keys`` (:func:`~.sampling.ranked_pairs`; default: by row id), so the pairs stay
    when rows are added."""
    n = len(X)
    if n < 2:
        return 0.0
    keys = vertex_keys(None, n) if keys is None else keys
    a, b = ranked_pairs(keys, params.PAIR_SAMPLES if samples is None else int(samples), seed)
    return float(np.median(pair_distances(X, a, b, metric)))


def step_scale(nearest: np.ndarray, near_dup: float) -> StepScale:
    """The natural step: the median of the nearest-neighbour distances ``nearest`` that are at
    least ``near_dup`` (all of them if none is)."""
    d = np.asarray(nearest, dtype=np.float64)
    d = d[np.isfinite(d)]
    if not len(d):
        return StepScale(0.0, float(near_dup))
    rest = d[d >= near_dup]
    return StepScale(float(np.median(rest if len(rest) else d)), float(near_dup))


def near_dup_distance(graph: ig.Graph, fraction: float | None = None,
                      scale: dict | None = None) -> float:
    """``fraction`` (default ``params.NEAR_DUP_FRACTION``) times the random-pair median of
    ``scale`` (default: the graph's ``path_scale`` if it has one, else its ``pair_median``);
    0 if there is none."""
    f = params.NEAR_DUP_FRACTION if fraction is None else float(fraction)
    stored = stored_params(graph)
    scale = stored.get("path_scale") or stored if scale is None else scale
    return max(0.0, f * float(scale.get("pair_median", 0.0) or 0.0))


def near_duplicate_groups(
    n: int, eu: np.ndarray, ev: np.ndarray, w: np.ndarray, near_dup: float
) -> np.ndarray:
    """Group label of every vertex: vertices joined by edges shorter than ``near_dup`` share a
    label; a vertex without near-duplicates has label -1. Labels are 0.. in order of each
    group's lowest vertex id."""
    close = w < near_dup
    A = coo_matrix((np.ones(int(close.sum())), (eu[close], ev[close])), shape=(n, n))
    _, comp = connected_components(A, directed=False)
    sizes = np.bincount(comp, minlength=n)
    labels = np.full(n, -1, dtype=np.int64)
    grouped = sizes[comp] > 1
    first_of: dict[int, int] = {}
    for v in np.flatnonzero(grouped).tolist():  # ascending ids: label by lowest member
        labels[v] = first_of.setdefault(int(comp[v]), len(first_of))
    return labels


@dataclass
class NearDuplicates:
    """The near-duplicate fact of one graph: its step scale and its groups."""

    scale: StepScale
    labels: np.ndarray  # per vertex: group id, -1 for images without near-duplicates
    nearest: np.ndarray  # per vertex: distance to its nearest neighbour

    @property
    def groups(self) -> list[np.ndarray]:
        """Vertex ids of each group (ascending), in label order."""
        if not len(self.labels) or self.labels.max() < 0:
            return []
        order = np.argsort(self.labels, kind="stable")
        order = order[self.labels[order] >= 0]
        cuts = np.flatnonzero(np.diff(self.labels[order])) + 1
        return np.split(order, cuts)

    def summary(self) -> dict:
        sizes = [len(g) for g in self.groups]
        return {
            **self.scale.as_dict(),
            "groups": len(sizes),
            "images_in_groups": int(sum(sizes)),
            "largest_group": max(sizes, default=0),
        }


def near_duplicates_of_edges(n: int, eu: np.ndarray, ev: np.ndarray, w: np.ndarray,
                             near_dup: float) -> NearDuplicates:
    """Natural step and groups of the kNN edges (eu, ev, w) for a near-duplicate distance."""
    nearest = nearest_distances(n, eu, ev, w)
    return NearDuplicates(step_scale(nearest, near_dup),
                          near_duplicate_groups(n, eu, ev, w, near_dup), nearest)


def find_near_duplicates(graph: ig.Graph | LeanGraph, fraction: float | None = None
                         ) -> NearDuplicates:
    """The near-duplicate distance, natural step and groups of a similarity graph (the natural
    step of its ``path_scale`` where it has one and ``fraction`` is the default)."""
    eu, ev, w = knn_edges_of(graph)
    near = near_duplicates_of_edges(graph.vcount(), eu, ev, w, near_dup_distance(graph, fraction))
    return with_stored_natural(graph, near) if fraction is None else near


def with_stored_natural(graph: ig.Graph, near: NearDuplicates) -> NearDuplicates:
    """``near`` with the natural step of the graph's ``path_scale`` (kept while the collection
    changes little, :func:`xdeg_pipeline.core.paths.load.attach_hub_load`), if it has one."""
    stored = stored_params(graph)
    natural = float((stored.get("path_scale") or {}).get("natural", 0.0) or 0.0)
    if natural <= 0:
        return near
    return NearDuplicates(StepScale(natural, near.scale.near_dup), near.labels, near.nearest)
