"""Distinct exits: edges that keep a dense group of images from filling its neighbour lists.

A kNN list of k images says little when most of them are variants of one picture: the members of
a series of 60 near-identical drawings list only each other, and the series joins the rest of
the graph through the few outside images that happen to list a member, so every chain leaving
it passes those few (hubs; the weakness the original article names for uneven collections).

*Dense groups* are the connected components of the kNN edges shorter than
``max(near-duplicate distance, group_fraction * natural step)`` (single linkage, like the
near-duplicate groups of :mod:`.near_duplicates`, at a scale where a step buys
a viewer little). A *distinct picture* of image p is an image outside p's dense group, each
other dense group counting once (its member nearest to p). Every image whose own kNN list holds
fewer than ``want`` distinct pictures (``want`` never more than the longest kNN list, so a small
k does not give every image exits) is joined to its nearest distinct pictures until it sees
``want`` of them (already adjacent ones count; the new edges are its *exits*), subject to:

* never shorter than the near-duplicate distance (so the near-duplicate groups path search
  reads from the graph do not change) and never longer than ``max_step`` natural steps (exits
  are ordinary steps: as long as the k-th neighbour of an ordinary image, not bridges);
* no image receives more than ``in_cap`` exits: candidates are taken nearest first, so an image
  close to everything (a collage, a blank canvas) does not become the exit of every series.

Candidates are ranked by the distance to the nearest point of a *net* of each dense group (every
member within the group distance of a net point; ungrouped images stand for themselves), then
refined to the group's nearest member. The search over the net is exact (blocked BLAS) below
``params.EXIT_EXACT_BUDGET`` distance evaluations, else an HNSW index over the net, or above
the kNN stage's partition threshold the net in k-means partitions searched as Dask tasks
(:func:`~.knn_partitioned.routed_neighbours`, as the kNN graph is).

:func:`xdeg_pipeline.core.graph.build.build_graph` adds the exits as edges with attribute ``exit``
(``shortest`` and ``smooth`` use them like kNN edges) and reports their count in
``graph["params"]["exits"]``; the evidence for the defaults is in :mod:`params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.arrays import contained, sorted_unique
from xdeg_pipeline.core.graph.distances import Prepared, pair_distances
from xdeg_pipeline.core.graph.knn_partitioned import (
    Runner,
    kmeans_centres,
    partition_count,
    routed_neighbours,
)
from xdeg_pipeline.core.graph.near_duplicates import near_duplicate_groups

MEMBER_SCAN_MAX = 4096  # larger groups: an exit goes to the group's nearest net point instead
HNSW_OWN_MAX = 64  # HNSW: room for at most this many own-group net points per query


@dataclass(frozen=True)
class ExitSettings:
    """How many distinct pictures every image should see, and the limits on its exits."""

    want: int = params.EXITS
    group_fraction: float = params.EXIT_GROUP_FRACTION
    max_step: float = params.EXIT_MAX_STEP
    in_cap: int = params.EXIT_IN_CAP
    candidates: int = params.EXIT_CANDIDATES

    @classmethod
    def of(cls, **given) -> ExitSettings:
        """Settings from keywords (None: the default of :mod:`params`)."""
        return cls(**{k: v for k, v in given.items() if v is not None})


@dataclass
class Exits:
    """Exit edges (a, b, distance) and what the search saw."""

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    info: dict = field(default_factory=dict)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # dense groups


def distinct_counts(n: int, src: np.ndarray, dst: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per image: distinct pictures among the neighbours it lists (its own dense group left out,
    every other dense group counted once)."""
    own = (labels[src] >= 0) & (labels[dst] == labels[src])
    s, d = src[~own], dst[~own]
    if not len(s):
        return np.zeros(n, np.int64)
    item = np.where(labels[d] >= 0, n + labels[d], d)
    pairs = sorted_unique(s * (2 * n + 1) + item)
    return np.bincount(pairs // (2 * n + 1), minlength=n)


def group_net(X: np.ndarray, labels: np.ndarray, space: str, radius: float) -> np.ndarray:
    """Vertices standing for the dense groups: every ungrouped vertex, and for each group a
    greedy net of members (lowest id first) such that every member lies within ``radius`` of
    one. Sorted by item (ungrouped vertex ``v``: item v; group g: item n + g)."""
    n = len(X)
    keep = [np.flatnonzero(labels < 0)]
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):
        if not len(members):
            continue
        prep = Prepared.of(X[members], space)
        uncovered = np.ones(len(members), bool)
        while uncovered.any():
            c = int(np.flatnonzero(uncovered)[0])
            keep.append(members[c : c + 1])
            uncovered &= prep.distances(X[members[c : c + 1]])[0] > radius
    net = np.concatenate(keep)
    return net[np.argsort(item_of(net, labels, n), kind="stable")]


def item_of(v: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """The item of each vertex: itself when ungrouped, ``n + group`` in a dense group."""
    return np.where(labels[v] >= 0, n + labels[v], v)


def _first_per_item(item: np.ndarray, d: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``(rows, K)`` candidates (``d`` inf where there is none): its L nearest
    distinct items, nearest first (ties: the lower item), as ``(rows, L)`` arrays (-1 / inf
    padded). Sorted within each row, not as one array of all candidates: at 100,000 images the
    one sort took 5.8 s of the graph's 24."""
    rows = len(item)
    order = np.lexsort((item, d), axis=1)
    item, d = np.take_along_axis(item, order, 1), np.take_along_axis(d, order, 1)
    by_item = np.argsort(item, axis=1, kind="stable")  # an item's nearest candidate first
    run = np.take_along_axis(item, by_item, 1)
    first = np.ones(item.shape, bool)
    np.put_along_axis(first, by_item, np.c_[np.ones((rows, 1), bool), run[:, 1:] != run[:, :-1]],
                      1)
    keep = first & np.isfinite(d)
    rank = np.cumsum(keep, axis=1, dtype=np.int32) - 1
    r, c = np.nonzero(keep & (rank < L))
    out_i = np.full((rows, L), -1, np.int64)
    out_d = np.full((rows, L), np.inf)
    out_i[r, rank[r, c]] = item[r, c]
    out_d[r, rank[r, c]] = d[r, c]
    return out_i, out_d


def _nearest_items_exact(X, rows, net, items, own, space, near, far, L):
    """Per row: its L nearest items (distance to their nearest net point), blocked BLAS."""
    cuts = np.flatnonzero(np.r_[True, np.diff(items) != 0])
    uitems = items[cuts]
    prep = Prepared.of(X[net], space)
    out_i = np.full((len(rows), L), -1, np.int64)
    out_d = np.full((len(rows), L), np.inf)
    block = max(1, min(4096, 16_000_000 // max(len(net), 1)))
    for lo in range(0, len(rows), block):
        r = rows[lo : lo + block]
        D = prep.distances(X[r])
        D[(D < near) | (D > far)] = np.inf
        M = np.minimum.reduceat(D, cuts, axis=1)
        M[uitems[None, :] == own[r][:, None]] = np.inf  # own group (or the image itself)
        k = min(L, M.shape[1])
        part = np.argpartition(M, k - 1, axis=1)[:, :k] if k < M.shape[1] else np.argsort(M, 1)
        md = np.take_along_axis(M, part, 1)
        srt = np.argsort(md, axis=1, kind="stable")
        part, md = np.take_along_axis(part, srt, 1), np.take_along_axis(md, srt, 1)
        out_i[lo : lo + block, :k] = np.where(np.isfinite(md), uitems[part], -1)
        out_d[lo : lo + block, :k] = md
    return out_i, out_d


def _nearest_items_indexed(X, rows, net, items, own, space, near, far, L, neighbours):
    """Per row: its L nearest items among the approximate nearest net points, which
    ``neighbours(base, queries, K)`` finds (ids into base, -1 padded)."""
    _, own_net = np.unique(items, return_counts=True)
    K = int(min(len(net), 2 * L + min(int(own_net.max(initial=0)), HNSW_OWN_MAX) + 1))
    ids = neighbours(np.ascontiguousarray(X[net]), X[rows], K)
    found = ids >= 0
    pos = np.nonzero(found)[0]
    d = np.full(ids.shape, np.inf)
    d[found] = pair_distances(X, rows[pos], net[ids[found]], space)
    item = np.where(found, items[np.maximum(ids, 0)], -1)
    d[(item == own[rows][:, None]) | (d < near) | (d > far)] = np.inf
    return _first_per_item(item, d, L)


def _hnsw(space: str) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """One HNSW index over the net, in this process."""
    from xdeg_pipeline.core.graph.knn import build_index, query_index

    return lambda base, queries, K: query_index(build_index(base, space), queries, K)


def _partitioned(space: str, runner: Runner | None, partitions: int | None
                 ) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """The net in k-means partitions, each searched as a task of ``runner`` (the Dask
    cluster's, or this process), as the kNN stage does above its partition threshold."""

    def search(base: np.ndarray, queries: np.ndarray, K: int) -> np.ndarray:
        centres = kmeans_centres(base, partitions or partition_count(len(base)))
        return routed_neighbours(base, None, K, space, centres, runner=runner,
                                 queries=queries)[0]

    return search


def _members(labels: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    parts = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return {int(labels[p[0]]): p for p in parts if len(p)}


def _targets(X, rows, cand, labels, net, items, space, near, far):
    """(source, target) of every candidate: an ungrouped item is its image; a group its
    member nearest to the source (at least ``near`` away; within ``far``)."""
    n = len(X)
    pos, slot = np.nonzero(cand >= 0)
    item = cand[pos, slot]
    a, b = rows[pos], np.where(item < n, item, -1)
    members = _members(labels)
    grouped = np.flatnonzero(item >= n)
    by_item = grouped[np.argsort(item[grouped], kind="stable")]
    cuts = np.flatnonzero(np.diff(item[by_item])) + 1
    for sel in np.split(by_item, cuts) if len(by_item) else []:
        g = int(item[sel[0]]) - n
        lo, hi = np.searchsorted(items, [n + g, n + g + 1])  # net is sorted by item
        m = members[g] if len(members[g]) <= MEMBER_SCAN_MAX else net[lo:hi]
        D = Prepared.of(X[m], space).distances(X[a[sel]])
        D[(D < near) | (D > far)] = np.inf
        j = np.argmin(D, axis=1)
        b[sel] = np.where(np.isfinite(D[np.arange(len(sel)), j]), m[j], -1)
    ok = (b >= 0) & (b != a)
    return a[ok], b[ok]


def _assign(n, a, b, w, existing, want, cap) -> np.ndarray:
    """Nearest first: a source takes up to ``want`` distinct pictures (already adjacent ones
    count, add no edge), an image receives at most ``cap`` exits. Returns the kept mask. (One
    pass in Python lists: numpy scalars made it 5.9 s of the graph's 24 at 100,000 images.)"""
    key = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.lexsort((b, a, w))
    adjacent = contained(key, existing)[order].tolist()
    used, got = [0] * n, [0] * n
    taken: set[int] = set()
    kept: list[int] = []
    for j, (s, t, kk) in enumerate(zip(a[order].tolist(), b[order].tolist(),
                                       key[order].tolist(), strict=True)):
        if used[s] >= want:
            continue
        if adjacent[j] or kk in taken:
            used[s] += 1
        elif got[t] < cap:
            kept.append(j)
            taken.add(kk)
            used[s] += 1
            got[t] += 1
    keep = np.zeros(len(a), bool)
    keep[order[kept]] = True
    return keep


def exit_edges(
    X: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray,
    space: str,
    near_dup: float,
    natural: float,
    settings: ExitSettings | None = None,
    *,
    partition_above: int = 0,
    runner: Runner | None = None,
    partitions: int | None = None,
) -> Exits:
    """Exit edges for the kNN pairs (src, dst, w) of the rows of X (see the module docstring).

    ``near_dup``: the near-duplicate distance; ``natural``: the natural step
    (:mod:`xdeg_pipeline.core.graph.near_duplicates`). Above ``partition_above`` images (0:
    never) the search that is not exact runs in k-means partitions of the net, as tasks of
    ``runner`` (:mod:`.knn_partitioned`; ``partitions``, default
    :func:`~.knn_partitioned.partition_count` of the net), instead of one HNSW index.
    """
    st = settings or ExitSettings()
    n = len(X)
    tau = max(float(near_dup), st.group_fraction * float(natural))
    labels = near_duplicate_groups(n, src, dst, w, tau) if n else np.zeros(0, np.int64)
    listed = int(np.bincount(src, minlength=n).max(initial=0))
    want = min(st.want, listed)  # lists shorter than ``want`` are not lacking (k < EXITS)
    rows = np.flatnonzero(distinct_counts(n, src, dst, labels) < want)
    info = {"dense_group_distance": tau, "dense_groups": int(labels.max(initial=-1)) + 1,
            "exit_rows": int(len(rows)), "exits": 0, "exit_search": "none"}
    empty = Exits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), info, labels)
    if want <= 0 or not len(rows) or natural <= 0 or n < 3:
        return empty
    far = st.max_step * float(natural)
    net = group_net(X, labels, space, tau)
    items = item_of(net, labels, n)
    own = item_of(np.arange(n), labels, n)
    L = want * max(1, st.candidates)
    exact = len(rows) * len(net) <= params.EXIT_EXACT_BUDGET
    how = "exact" if exact else "partitioned" if 0 < partition_above < n else "hnsw"
    args = (X, rows, net, items, own, space, float(near_dup), far, L)
    if exact:
        cand, _ = _nearest_items_exact(*args)
    else:
        neighbours = (_partitioned(space, runner, partitions) if how == "partitioned"
                      else _hnsw(space))
        cand, _ = _nearest_items_indexed(*args, neighbours)
    a, b = _targets(X, rows, cand, labels, net, items, space, float(near_dup), far)
    d = pair_distances(X, a, b, space).astype(np.float64)
    ok = (d >= near_dup) & (d <= far)
    a, b, d = a[ok], b[ok], d[ok]
    existing = sorted_unique(np.minimum(src, dst) * n + np.maximum(src, dst))
    keep = _assign(n, a, b, d, existing, want, st.in_cap)
    info.update(exits=int(keep.sum()), exit_search=how)
    return Exits(a[keep], b[keep], d[keep], info, labels)
