"""The kNN edge table brought up to date for added and removed images instead of rebuilt.

Rows are identified by a key (the content hash), so the previous table's row numbers are
mapped onto the new rows whatever their order. For ``n`` rows of which ``m`` are new:

* a new row gets its exact k nearest neighbours among all rows (blocked BLAS, ``m x n``);
* a kept row keeps its previous neighbours and takes in any new row nearer than them (exact
  distances to the ``m`` new rows): its list is the previous one merged with the exact best
  of the new, so it is as good as before (exact where the previous list was exact);
* a kept row that lost a neighbour to a removed image is searched again, exactly.

Distances are recomputed exactly (those the previous table holds are carried over) and rows
ranked by :func:`.knn.edge_table`'s rule, as in a full build; a kept row no new row came near
keeps its previous edges as they are (:func:`_ranked`). The work is about ``2 m n d`` flops
against a rebuild's ``n^2 d`` (exact, up to ``params.KNN_EXACT_MAX``) or HNSW's ``n log n``
index build. Measured by ``python -m benchmarks.knn_update`` (128-d, k=20, 2 cores; update /
rebuild seconds, rows searched; before :func:`_ranked`): 4,000 + 40: 0.22 / 0.45 (116
searched); 8,000 + 80: 0.47 / 1.14 (277); 8,000 + 800: 0.91 / 1.49 (2,207); 20,000 + 200: 1.53
/ 4.70 (643); 20,000 + 1,000: 4.00 / 4.11 (3,098, 15 %); 20,000 + 2,000: 3.83 / 2.33 (5,949, 30
%). So the update is used up to :data:`MAX_CHANGE` of the rows searched, beyond which
:func:`update_knn_edges` rebuilds. Recall of the update >= the rebuild's within 0.002 in every
case.

Above the stage's partition threshold the update is *routed* (``partitions``): the searched
rows are searched in their nearest k-means partitions only, and kept rows take in new rows
through reverse lists, so its work no longer grows with ``n`` times the rows added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.distances import Prepared, check_space, pair_distances
from xdeg_pipeline.core.graph.knn import edge_frame, edge_table, exact_knn, knn_edges, pair_table
from xdeg_pipeline.core.graph.knn_partitioned import Runner, kmeans_centres, routed_neighbours

MAX_CHANGE = 0.10  # share of rows to search exactly, above which a rebuild is cheaper
_BLOCK_CELLS = 16_000_000  # distance-matrix cells per block (64 MB of float32)


@dataclass(frozen=True)
class KnnUpdate:
    """How the table was made: ``mode`` ``"update"`` or ``"rebuild"`` (with the reason), and
    the rows added, removed and searched again."""

    mode: str
    reason: str = ""
    added: int = 0
    removed: int = 0
    searched: int = 0


def _old_lists(old_edges: pd.DataFrame, old_to_new: np.ndarray, n_old: int, k: int
               ) -> np.ndarray:
    """``(n_old, k)`` previous neighbours as new row numbers (-1: none or removed)."""
    lists = np.full((n_old, k), -1, dtype=np.int64)
    src = old_edges["source"].to_numpy(np.int64)
    rank = old_edges["rank"].to_numpy(np.int64)
    keep = (rank >= 1) & (rank <= k) & (src < n_old)
    tgt = old_edges["target"].to_numpy(np.int64)[keep]
    mapped = np.where(tgt < n_old, old_to_new[np.minimum(tgt, n_old - 1)], -1)
    lists[src[keep], rank[keep] - 1] = mapped
    return lists


def _unique_rows(cand: np.ndarray) -> np.ndarray:
    """Each row's candidates with repeats replaced by -1 (order not kept)."""
    c = np.sort(cand, axis=1)
    c[:, 1:][c[:, 1:] == c[:, :-1]] = -1
    return c


def _nearest_new(X: np.ndarray, rows: np.ndarray, new: np.ndarray, k: int, space: str,
                 bound: np.ndarray) -> np.ndarray:
    """For each of ``rows``: its (up to) ``k`` nearest among the ``new`` rows (new row ids),
    leaving out those farther than ``bound`` (the row's current k-th distance, with a margin
    for float32 rounding: they cannot enter its list)."""
    take = min(k, len(new))
    out = np.full((len(rows), k), -1, dtype=np.int64)
    if take == 0 or len(rows) == 0:
        return out
    base = Prepared.of(X[new], space)
    block = max(1, _BLOCK_CELLS // max(len(new), 1))
    for lo in range(0, len(rows), block):
        r = rows[lo:lo + block]
        D = base.distances(X[r])
        D[new[None, :] == r[:, None]] = np.inf  # never itself
        # most rows have no new row within their bound: only those with more than ``take``
        # are partitioned (the partition of every row was 2/3 of a 60,000-row update)
        near = D <= bound[lo:lo + block, None]
        count = near.sum(axis=1)
        few = np.flatnonzero((count > 0) & (count <= take))
        if len(few):
            i, j = np.nonzero(near[few])
            first = np.repeat(np.cumsum(count[few]) - count[few], count[few])
            out[lo + few[i], np.arange(len(i)) - first] = new[j]
        many = np.flatnonzero(count > take)  # more than ``take`` columns: take < len(new)
        if len(many):
            Dm = D[many]
            part = np.argpartition(Dm, take - 1, axis=1)[:, :take]
            ids = new[part]
            ids[np.take_along_axis(Dm, part, axis=1) > bound[lo + many, None]] = -1
            out[lo + many, :take] = ids
    return out


def _kth_distance(old_edges: pd.DataFrame, kept_old: np.ndarray, n_old: int, k: int,
                  scale: float) -> np.ndarray:
    """The previous k-th neighbour distance of each kept row (inf when it had fewer than
    ``k``), widened by far more than the float32 error of a blocked distance: ``scale`` is
    the largest squared norm (1 for cosine), the expansion's error is ~1e-6 of it."""
    kth = np.full(n_old, np.inf)
    last = old_edges[old_edges["rank"] == k]
    src = last["source"].to_numpy(np.int64)
    ok = src < n_old
    kth[src[ok]] = last["distance"].to_numpy(np.float64)[ok]
    kth = kth[kept_old]
    return np.sqrt(kth ** 2 + 2e-5 * scale) + 1e-6


def update_knn_edges(
    old_keys: Sequence[str],
    old_edges: pd.DataFrame,
    keys: Sequence[str],
    X: np.ndarray,
    k: int = params.KNN_K,
    space: str = params.KNN_SPACE,
    max_change: float = MAX_CHANGE,
    build: Callable[[np.ndarray], pd.DataFrame] | None = None,
    partitions: int | None = None,
    runner: Runner | None = None,
) -> tuple[pd.DataFrame, KnnUpdate]:
    """The kNN edge table of ``X`` (rows named by ``keys``) from the previous table
    ``old_edges`` over rows named ``old_keys``; a full :func:`.knn.knn_edges` build when the
    update would not be cheaper (see the module docstring). Keys must be unique.

    The vectors of kept rows must be those the previous table was built on (same PCA model).
    ``build(X)`` makes a rebuilt table (default :func:`.knn.knn_edges` with ``k`` and
    ``space``; the stage passes the partitioned build above its threshold). The previous table
    may be any kNN table of the same format, one-index or partitioned.

    ``partitions`` (>= 2; the stage's choice above its partition threshold): the searched rows
    are routed to their nearest k-means partitions instead of compared with every row
    (:func:`.knn_partitioned.routed_neighbours`, tasks by ``runner``), and a kept row takes in
    the new rows that found it, or one of its previous neighbours, among their ``2 k``
    nearest (reverse lists, one step of NN-descent) instead of comparing itself with every
    new row: work in the rows added, not in ``n`` times them.
    """
    space = check_space(space)
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    k = min(int(k), n - 1)

    def rebuild(reason: str) -> tuple[pd.DataFrame, KnnUpdate]:
        if build is not None:
            return build(X), KnnUpdate("rebuild", reason)
        return knn_edges(X, k=max(k, 1), space=space), KnnUpdate("rebuild", reason)

    if k <= 0:
        return rebuild("fewer than two rows")
    if not np.isfinite(X).all():
        raise ValueError("features contain NaN or infinite values")
    index = {key: i for i, key in enumerate(keys)}
    if len(index) != n or len(set(old_keys)) != len(old_keys):
        raise ValueError("row keys must be unique")
    n_old = len(old_keys)
    old_to_new = np.array([index.get(key, -1) for key in old_keys], dtype=np.int64)
    kept_old = np.flatnonzero(old_to_new >= 0)
    is_old = np.zeros(n, bool)
    is_old[old_to_new[kept_old]] = True
    added = np.flatnonzero(~is_old)
    removed = n_old - len(kept_old)
    old_k = int(old_edges["rank"].max()) if len(old_edges) else 0
    if n_old < 2 or old_k < min(k, n_old - 1):
        return rebuild(f"previous table has k={old_k}, need {k}")
    lists = _old_lists(old_edges, old_to_new, n_old, k)[kept_old]
    kept = old_to_new[kept_old]  # new row ids of the kept rows
    lost = (lists[:, :min(k, n_old - 1)] < 0).any(axis=1)  # a neighbour was removed
    damaged = kept[lost]
    searched = np.concatenate([added, damaged])
    if len(searched) > max_change * n:
        return rebuild(f"{len(searched)} of {n} rows to search (> {max_change:.0%})")

    routed = partitions is not None and partitions >= 2 and len(searched) > 0
    cand = np.full((n, 3 * k + 1), -1, dtype=np.int64)  # kept, new rows', searched rows'
    cand[kept, :k] = lists
    if routed:
        _routed_candidates(X, cand, added, searched, kept, is_old, k, space,
                           kmeans_centres(X, int(partitions)), runner)
    else:
        scale = 1.0 if space == "cosine" else float((X.astype(np.float64) ** 2).sum(1).max())
        bound = _kth_distance(old_edges, kept_old, n_old, k, scale)
        cand[kept, k:2 * k] = _nearest_new(X, kept, added, k, space, bound)
        if len(searched):
            ids, _ = exact_knn(X, k, space, rows=searched)
            cand[searched] = -1
            cand[searched, 2 * k:2 * k + ids.shape[1]] = ids
    edges = _ranked(X, cand, k, space, old_edges, old_to_new, kept, searched)
    return edges, KnnUpdate("update", "routed" if routed else "", len(added), removed,
                            len(searched))


def _ranked(X: np.ndarray, cand: np.ndarray, k: int, space: str, old_edges: pd.DataFrame,
            old_to_new: np.ndarray, kept: np.ndarray, searched: np.ndarray) -> pd.DataFrame:
    """The table of the candidates ``cand`` (kept rows: their previous ``k`` first), each row's
    ``k`` nearest ranked as :func:`.knn.edge_table` ranks them. A kept row that took in no new
    row and lost none keeps its previous edges as they are: ranking them again gives the same
    order (by distance, ties by target) as long as the kept rows keep their order, and rows
    whose previous order is not that one are ranked again. Adding 1,000 images to 100,000 (60
    candidates a row, series of variants): 10.7 s -> 3.6-4.0 s, the same table."""
    n = len(X)
    touched = np.zeros(n, bool)
    touched[searched] = True
    touched[kept] |= (cand[kept, k:] >= 0).any(axis=1)
    all_src = old_to_new[old_edges["source"].to_numpy(np.int64)]
    src, rank = all_src, old_edges["rank"].to_numpy(np.int64)
    mine = (src >= 0) & (rank <= k)
    mine[mine] = ~touched[src[mine]]
    src, dst = src[mine], old_to_new[old_edges["target"].to_numpy(np.int64)[mine]]
    dist = old_edges["distance"].to_numpy(np.float32)[mine]
    same = src[1:] == src[:-1]
    rk = rank[mine]
    if ((np.diff(kept) <= 0).any() or (dst < 0).any() or (src[1:] < src[:-1]).any()
            or (same & (rk[1:] <= rk[:-1])).any()):  # not the order this relies on
        return edge_table(X, _unique_rows(cand), k, space, previous=(old_edges, old_to_new))
    # a row's previous order must be the one ranking gives: by distance, ties by target
    later = dist[1:] < dist[:-1]
    later |= (dist[1:] == dist[:-1]) & (dst[1:] <= dst[:-1])
    touched[src[1:][same & later]] = True
    keep = ~touched[src]
    rows = np.flatnonzero(touched)
    fresh = _unique_rows(cand[rows])
    theirs = old_edges[(all_src >= 0) & touched[np.maximum(all_src, 0)]]  # the pairs to carry
    ranked = pair_table(X, np.repeat(rows, fresh.shape[1]), fresh.reshape(-1), k, space,
                        previous=(theirs, old_to_new))
    both = pd.concat([edge_frame(src[keep], dst[keep], dist[keep], rk[keep]), ranked],
                     ignore_index=True)
    order = np.argsort(both["source"].to_numpy(), kind="stable")
    return both.iloc[order].reset_index(drop=True)


def _routed_candidates(X: np.ndarray, cand: np.ndarray, added: np.ndarray,
                       searched: np.ndarray, kept: np.ndarray, is_old: np.ndarray, k: int,
                       space: str, centres: np.ndarray, runner: Runner | None) -> None:
    """Fill ``cand`` (kept rows: their previous lists in the first ``k`` columns) the routed
    way: the searched rows' ``2 k`` nearest from their partitions, and for kept rows the new
    rows that found them or their previous neighbours."""
    reach = min(2 * k + 1, len(X))  # the row itself and 2 k others
    ids, _ = routed_neighbours(X, searched, reach, space, centres, runner=runner)
    if len(added):  # (only removals: the damaged rows are searched again, nothing more)
        found = ids[:len(added)]
        hood = cand[np.maximum(found, 0), :k]  # and the previous neighbours of those found
        hood[found < 0] = -1
        hood = _unique_rows(np.concatenate([found, hood.reshape(len(found), -1)], axis=1))
        cand[kept, k:2 * k] = _reverse_lists(X, hood, added, is_old, k, space)[kept]
    cand[searched] = -1
    cand[searched, :reach] = ids


def _reverse_lists(X: np.ndarray, found: np.ndarray, added: np.ndarray, is_old: np.ndarray,
                   k: int, space: str) -> np.ndarray:
    """``(n, k)``: for each kept row, the (up to) ``k`` nearest of the new rows whose
    candidate lists ``found`` (rows of ``added``, X's row ids, no repeats within a row) hold
    it, -1 padded (new rows: all -1)."""
    u = np.repeat(added, found.shape[1])
    v = found.reshape(-1)
    ok = v >= 0
    ok[ok] = is_old[v[ok]]
    u, v = u[ok], v[ok]
    d = pair_distances(X, v, u, space)
    order = np.lexsort((u, d, v))
    u, v = u[order], v[order]
    rank = np.arange(len(v)) - np.searchsorted(v, v, side="left")
    keep = rank < k
    out = np.full((len(X), k), -1, dtype=np.int64)
    out[v[keep], rank[keep]] = u[keep]
    return out
