"""k-nearest-neighbour edge table: exact (blocked BLAS) up to ``params.KNN_EXACT_MAX`` distinct
vectors, nmslib HNSW above; recall against exact search.

Spaces: ``"l2"`` (Euclidean distance) and ``"cosine"`` (1 - cosine similarity; nmslib's
``cosinesimil``), defined in :mod:`xdeg_pipeline.core.graph.distances`. The ``distance`` column is
always recomputed exactly (float32) for the pairs HNSW returns, so it does not depend on
nmslib's conventions (its ``l2`` space is squared).
Exact duplicate vectors are indexed once: the copies of a vector are each other's nearest
neighbours (distance 0) and share the neighbours of their representative.
"""

from __future__ import annotations

import os
import sys
import tempfile
from types import ModuleType

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.distances import SPACES as SPACES  # re-exported
from xdeg_pipeline.core.graph.distances import Prepared, check_space, pair_distances

_NMSLIB_SPACE = {"l2": "l2", "cosine": "cosinesimil"}
COLUMNS = ("source", "target", "distance", "rank")


# The PyPI wheel of nmslib prints, from C++ on import, that it was built without SSE4/AVX and
# how to build it from source. Measured on a 2-core AMD EPYC (knn_edges, 128-d vectors): a
# ``-march=native`` source build of the same 2.1.2 is 0.9-1.2x as fast on 4,000 vectors (noise)
# and 1.1-1.4x on 50,000, same recall, for a ~4 min compile (g++ with OpenMP, Python headers)
# and a binary tied to the build machine's CPU: not worth asking users for, so it is hidden.
_NMSLIB_NOTICE = (
    "Your CPU supports instructions that this binary was not compiled to use",
    "For maximum performance, you can install NMSLIB from sources",
    "pip install --no-binary :all: nmslib",
)


def import_nmslib() -> ModuleType:
    """``import nmslib`` without its build notice on stderr; anything else it prints is kept."""
    if "nmslib" in sys.modules:
        return sys.modules["nmslib"]
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to protect
        import nmslib

        return nmslib
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import nmslib
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        lines = caught.read().decode("utf-8", "replace").splitlines(keepends=True)
    rest = "".join(line for line in lines if not line.strip().startswith(_NMSLIB_NOTICE))
    if rest:
        sys.stderr.write(rest)
        sys.stderr.flush()
    return nmslib


def default_threads() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def exact_knn(
    X: np.ndarray, k: int, space: str = params.KNN_SPACE, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (self excluded) of ``rows`` (default all) by blocked BLAS.

    Returns ``(indices int64 (m, k), distances float32 (m, k))``, nearest first; ties are
    broken by index.
    """
    space = check_space(space)
    n = X.shape[0]
    k = min(k, n - 1)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    base = Prepared.of(X, space)
    idx = np.empty((len(rows), max(k, 0)), dtype=np.int64)
    dist = np.empty((len(rows), max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, dist
    block = max(1, min(4096, 16_000_000 // max(n, 1)))
    for lo in range(0, len(rows), block):
        r = rows[lo : lo + block]
        D = base.distances(X[r])
        D[np.arange(len(r)), r] = np.inf
        part = np.argpartition(D, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(D, axis=1)
        part = part[:, :k]
        pd_ = np.take_along_axis(D, part, axis=1)
        order = np.lexsort((part, pd_), axis=1)
        idx[lo : lo + block] = np.take_along_axis(part, order, axis=1)
        dist[lo : lo + block] = np.take_along_axis(pd_, order, axis=1)
    return idx, dist


def build_index(U: np.ndarray, space: str = params.KNN_SPACE, threads: int | None = None):
    """An nmslib HNSW index over the rows of U (parameters from :mod:`params`)."""
    nmslib = import_nmslib()
    index = nmslib.init(method="hnsw", space=_NMSLIB_SPACE[check_space(space)])
    index.addDataPointBatch(np.ascontiguousarray(U, dtype=np.float32))
    index.createIndex(
        {
            "M": params.HNSW_M,
            "efConstruction": params.HNSW_EF_CONSTRUCTION,
            "post": 0,
            "indexThreadQty": threads or default_threads(),
        },
        print_progress=False,
    )
    return index


def query_index(
    index, Q: np.ndarray, k: int, ef: int | None = None, threads: int | None = None
) -> np.ndarray:
    """Ids (len(Q), k) of the approximate k nearest rows, nearest first, -1 padded."""
    ef_search = ef if ef is not None else max(params.HNSW_EF_SEARCH, 2 * k)
    index.setQueryTimeParams({"efSearch": int(ef_search)})
    res = index.knnQueryBatch(
        np.ascontiguousarray(Q, dtype=np.float32), k=k, num_threads=threads or default_threads()
    )
    ids = np.full((len(Q), k), -1, dtype=np.int64)
    for i, (r_ids, _) in enumerate(res):
        ids[i, : len(r_ids)] = r_ids
    return ids


def checked_features(X: np.ndarray) -> np.ndarray:
    """``X`` as a contiguous float32 2-D array; ValueError for another shape or for NaN or
    infinite values (a kNN search would give nonsense)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D feature array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("features contain NaN or infinite values")
    return X


def knn_edges(
    X: np.ndarray,
    k: int = params.KNN_K,
    space: str = params.KNN_SPACE,
    ef: int | None = None,
    threads: int | None = None,
    exact_max: int | None = None,
) -> pd.DataFrame:
    """Directed kNN edge table of the rows of X: source, target, distance, rank.

    Each row gets ``min(k, n - 1)`` neighbours, nearest first (``rank`` 1 = nearest); no
    self-edges. Up to ``exact_max`` distinct vectors (default ``params.KNN_EXACT_MAX``) the
    search is exact and the table deterministic; above, HNSW with efSearch ``ef`` (default
    from :mod:`params`).
    """
    space = check_space(space)
    X = checked_features(X)
    n = X.shape[0]
    k = min(int(k), n - 1)
    if k <= 0:
        return edge_frame(np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32), np.zeros(0))
    threads = threads or default_threads()

    # Index each distinct vector once; copies are attached afterwards.
    _, rep, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    m = len(rep)  # rep: the representative row of each distinct vector
    U = np.ascontiguousarray(X[rep])
    exact_max = params.KNN_EXACT_MAX if exact_max is None else exact_max
    if m <= k + 1 or m <= exact_max:
        kk = min(k, m - 1)
        ids, _ = exact_knn(U, kk, space) if m > 1 else (np.zeros((1, 0), int), None)
        ids = np.concatenate([np.arange(m)[:, None], ids], axis=1)  # self first, like HNSW
    else:
        ids = query_index(build_index(U, space, threads), U, k + 1, ef, threads)
    return edge_table(X, ids, k, space, inverse, rep)


def carried_values(edges: pd.DataFrame, old: pd.DataFrame, column: str,
                   old_to_new: np.ndarray) -> np.ndarray:
    """``old[column]`` of the pairs of ``edges`` that ``old`` (a table over previous row ids,
    ``old_to_new[previous id]`` its id now, -1 when gone) also holds; NaN for the rest
    (float32). A value of a pair depends only on its two rows, so it carries over."""
    out = np.full(len(edges), np.nan, dtype=np.float32)
    if not len(old) or column not in old.columns or not len(edges):
        return out
    n = int(max(len(old_to_new), edges["source"].max() + 1, edges["target"].max() + 1))
    o_src = old_to_new[old["source"].to_numpy(np.int64)]
    o_dst = old_to_new[old["target"].to_numpy(np.int64)]
    ok = (o_src >= 0) & (o_dst >= 0)
    okey = o_src[ok] * n + o_dst[ok]
    oval = old[column].to_numpy(np.float32)[ok]
    order = np.argsort(okey, kind="stable")
    okey, oval = okey[order], oval[order]
    key = edges["source"].to_numpy(np.int64) * n + edges["target"].to_numpy(np.int64)
    pos = np.minimum(np.searchsorted(okey, key), max(len(okey) - 1, 0))
    hit = (okey[pos] == key) if len(okey) else np.zeros(len(key), bool)
    out[hit] = oval[pos[hit]]
    return out


def edge_table(
    X: np.ndarray,
    ids: np.ndarray,
    k: int,
    space: str,
    inverse: np.ndarray | None = None,
    rep: np.ndarray | None = None,
    previous: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The edge table from neighbour ids of the distinct vectors (``ids[u]``, -1 padded).

    ``inverse[i]``: distinct vector of row i; ``rep[u]``: its first row (default: all rows
    distinct). Self matches are dropped, distances computed exactly, rows ranked.
    ``previous``: (an edge table over earlier row ids, ``old_to_new`` as in
    :func:`carried_values`) whose rows had the same vectors: the distances of the pairs it
    holds are taken from it, only the others computed (an update's work follows what was
    added)."""
    n = X.shape[0]
    inverse = np.arange(n) if inverse is None else inverse
    rep = np.arange(n) if rep is None else rep
    m = len(rep)
    group_size = np.bincount(inverse, minlength=m)
    # neighbours of each distinct vector with itself removed, as distinct-vector ids (-1: none)
    nb = np.where((ids == np.arange(m)[:, None]) | (ids < 0), -1, ids)
    # the common case: vectors without copies
    pts = np.flatnonzero(group_size[inverse] == 1)
    cand = nb[inverse[pts]]
    src_list = [np.repeat(pts, cand.shape[1])]
    dst_list = [np.where(cand >= 0, rep[np.maximum(cand, 0)], -1).reshape(-1)]
    # vectors with exact copies: the copies first (distance 0), then the shared neighbours
    by_group = np.argsort(inverse, kind="stable")
    group_start = np.concatenate([[0], np.cumsum(group_size)])
    for g in np.flatnonzero(group_size > 1):
        members = by_group[group_start[g] : group_start[g + 1]]
        others = rep[nb[g][nb[g] >= 0]]
        for p in members:
            row = np.concatenate([members[members != p][:k], others])[: k + 1]
            src_list.append(np.full(len(row), p))
            dst_list.append(row)
    src = np.concatenate(src_list).astype(np.int64)
    dst = np.concatenate(dst_list).astype(np.int64)
    return pair_table(X, src, dst, k, space, previous)


def pair_table(X: np.ndarray, src: np.ndarray, dst: np.ndarray, k: int, space: str,
               previous: tuple[pd.DataFrame, np.ndarray] | None = None) -> pd.DataFrame:
    """Each source's ``k`` nearest of the pairs ``src -> dst`` (-1 and self pairs dropped),
    ranked by exact distance, ties by target; ``previous`` as in :func:`edge_table`."""
    keep = (dst >= 0) & (dst != src)
    src, dst = src[keep], dst[keep]
    if previous is None:
        dist = pair_distances(X, src, dst, space)
    else:
        old, old_to_new = previous
        dist = carried_values(pd.DataFrame({"source": src, "target": dst}), old, "distance",
                              old_to_new)
        todo = np.flatnonzero(np.isnan(dist))
        dist[todo] = pair_distances(X, src[todo], dst[todo], space)
    at, rank = _nearest_k(src, dst, dist, k)  # exact order within each source
    return edge_frame(src[at], dst[at], dist[at], rank)


def keep_nearest(edges: pd.DataFrame, by: np.ndarray, k: int) -> pd.DataFrame:
    """Each source's ``k`` edges smallest in ``by`` (one value per edge; ties in the table's
    order), ranked by it; the ``distance`` column stays the table's own."""
    src = edges["source"].to_numpy(np.int64)
    dst = edges["target"].to_numpy(np.int64)
    at, rank = nearest_positions(src, dst, by, k)
    dist = edges["distance"].to_numpy(np.float32)
    return edge_frame(src[at], dst[at], dist[at], rank)


def nearest_positions(src: np.ndarray, dst: np.ndarray, by: np.ndarray, k: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each source's ``k`` pairs smallest in ``by`` (ties in the given order),
    grouped by source, nearest first, and their ranks (1 = nearest)."""
    by = np.asarray(by, dtype=np.float64)
    if len(by) and np.isfinite(by).all() and by.min() >= 0 and by.max() < 4:
        # one stable sort of source x 4 + value (a chord is in [0, 2]): a tenth of the time
        # of sorting by three keys at 60M pairs; float64 keeps float32 values apart
        return _first_k(np.argsort(src * 4.0 + by, kind="stable"), src, k)
    return _nearest_k(src, dst, by, k)


def _nearest_k(src: np.ndarray, dst: np.ndarray, by: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each source's ``k`` pairs smallest in ``by`` (ties by target), sorted by
    source then ``by``, and their ranks (1 = nearest)."""
    return _first_k(np.lexsort((dst, by, src)), src, k)


def _first_k(order: np.ndarray, src: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Of ``order`` (positions sorted by source, then nearest first), the first ``k`` of each
    source and their ranks (1 = nearest)."""
    s = src[order]
    rank = np.arange(len(s)) - np.searchsorted(s, s, side="left") + 1
    keep = rank <= k
    return order[keep], rank[keep]


def edge_frame(src, dst, dist, rank) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": np.asarray(src, dtype=np.int32),
            "target": np.asarray(dst, dtype=np.int32),
            "distance": np.asarray(dist, dtype=np.float32),
            "rank": np.asarray(rank, dtype=np.int16),
        }
    )


def knn_recall(
    X: np.ndarray,
    edges: pd.DataFrame,
    k: int,
    sample: int = 500,
    seed: int = 0,
    space: str = params.KNN_SPACE,
) -> float:
    """Share of the true k nearest neighbours found, over a random sample of sources.

    A returned neighbour counts as correct when it is no farther than the true k-th neighbour
    (so ties and duplicate vectors are not counted as misses).
    """
    space = check_space(space)
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return 1.0
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    _, true_d = exact_knn(X, k, space, rows=rows)
    kth = true_d[:, -1].astype(np.float64)
    e = edges[edges["source"].isin(rows)]
    e = e[e["rank"] <= k]
    found_d = pair_distances(
        X, e["source"].to_numpy(np.int64), e["target"].to_numpy(np.int64), space
    )
    pos = np.searchsorted(rows, e["source"].to_numpy())
    tol = 1e-5 * np.maximum(kth, 1e-3) + 1e-6
    ok = found_d <= (kth + tol)[pos]
    hits = np.bincount(pos[ok], minlength=len(rows))
    return float(np.minimum(hits, k).sum() / (k * len(rows)))
