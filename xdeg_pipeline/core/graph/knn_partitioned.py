"""The kNN edge table of a collection too large for one index, computed partition by partition.

The distinct vectors are split into ``P`` partitions by k-means on a sample (k-means++ seeding,
Lloyd iterations, :func:`kmeans_centres`). Every vector is *indexed* in its nearest partition
only and *searched* in its nearest partitions (:func:`nearest_partitions`: up to ``overlap``,
those whose centre is within ``1 + margin`` times the nearest centre's distance): a task
per partition builds the index of its own vectors (exact blocked BLAS up to ``exact_max``,
nmslib HNSW above) and answers the ``k + 1`` nearest of every vector routed to it
(:func:`partition_neighbours`, plain arrays in and out, so any engine can run it). The indexes
are disjoint, so a vector's candidate lists never repeat a neighbour; the merge keeps its
``k + 1`` nearest and :func:`.knn.edge_table` drops the self match, recomputes the distances
exactly and ranks, as in :func:`.knn.knn_edges` (same columns, dtypes, duplicate handling).

Work against one index over all ``n``: the indexes together hold ``n`` vectors (HNSW builds on
``n / P`` each), the searches are about ``2.2-2.6 n`` (measured). This is the cuVS
``all_neighbors`` scheme (points in their 2 nearest clusters) with the clusters' indexes
disjoint, which halves the build work and the task memory, and a distance margin instead of a
fixed overlap (fixed 2: 0.96 of the true neighbours in reach; the margin: 0.99). Measured
recall and memory: ``python -m benchmarks.knn_distributed`` and ``docs/scaling.md``.

Tasks run through a *runner* ``(fn, tasks) -> iterator of (task number, result)``: in this
process one after another (:func:`local_runner`), on a Dask cluster (:func:`dask_runner`, a few
tasks in flight so that a worker holds one partition at a time), or on the cluster this code runs
on as a Dask task (:func:`cluster_runner`, the ``build_dask`` job).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.dask_worker import worker_client
from xdeg_pipeline.core.graph.distances import Prepared, check_space
from xdeg_pipeline.core.graph.knn import (
    build_index,
    checked_features,
    default_threads,
    edge_table,
    knn_edges,
    query_index,
)

Runner = Callable[[Callable[..., Any], Sequence[tuple]], Iterator[tuple[int, Any]]]
_BLOCK_CELLS = 16_000_000  # distance-matrix cells per block (64 MB of float32)


@dataclass(frozen=True)
class PartitionInfo:
    """How a partitioned table was made: partitions, overlap, the largest partition's indexed
    and searched rows, and where the tasks ran."""

    partitions: int
    overlap: int
    largest_indexed: int
    largest_searched: int
    engine: str
    searched_per_vector: float = 1.0
    seconds: tuple[float, float, float] = (0.0, 0.0, 0.0)  # routing, partition tasks, merge

    def facts(self) -> dict[str, Any]:
        return {"method": "partitioned", "partitions": self.partitions, "overlap": self.overlap,
                "largest_indexed": self.largest_indexed,
                "largest_searched": self.largest_searched, "engine": self.engine,
                "searched_per_vector": self.searched_per_vector,
                "seconds_routing": self.seconds[0], "seconds_tasks": self.seconds[1],
                "seconds_merge": self.seconds[2]}


def kmeans_centres(X: np.ndarray, parts: int, sample: int = params.KNN_PARTITION_SAMPLE,
                   seed: int = 0, iters: int = 15) -> np.ndarray:
    """``parts`` k-means centres (float32) of a random sample of the rows of X (l2)."""
    rng = np.random.default_rng(seed)
    S = X[np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))]
    S = np.ascontiguousarray(S, dtype=np.float32)
    parts = min(parts, len(S))
    centres = [S[rng.integers(len(S))]]  # k-means++ seeding
    d2 = ((S - centres[0]) ** 2).sum(1)
    for _ in range(1, parts):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(S[rng.choice(len(S), p=p)])
        d2 = np.minimum(d2, ((S - centres[-1]) ** 2).sum(1))
    C = np.stack(centres).astype(np.float32)
    for _ in range(iters):
        label = nearest_partitions(S, C, 1, "l2")[:, 0]
        new = C.copy()
        for p in np.unique(label):  # an empty cluster keeps its centre
            new[p] = S[label == p].mean(axis=0, dtype=np.float64)
        if np.allclose(new, C):
            break
        C = new
    return C


def nearest_partitions(X: np.ndarray, centres: np.ndarray, overlap: int, space: str,
                       margin: float | None = None) -> np.ndarray:
    """``(n, overlap)`` the nearest centres of each row, nearest first; with a ``margin``,
    only those within ``(1 + margin)`` times the nearest centre's distance (-1 after)."""
    prep = Prepared.of(centres, space)
    take = min(overlap, len(centres))
    out = np.empty((len(X), take), dtype=np.int64)
    block = max(1, _BLOCK_CELLS // max(len(centres), 1))
    for lo in range(0, len(X), block):
        D = prep.distances(X[lo:lo + block])
        part = np.argsort(D, axis=1, kind="stable")[:, :take]
        if margin is not None:
            d = np.take_along_axis(D, part, axis=1)
            part[d > d[:, :1] * (1.0 + margin) + 1e-12] = -1
        out[lo:lo + block] = part
    return out


def partition_neighbours(base: np.ndarray, queries: np.ndarray, k: int,
                         space: str = params.KNN_SPACE, exact_max: int = params.KNN_EXACT_MAX,
                         threads: int | None = None, ef: int | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``base`` to each query: ``(ids int64 (q, k), distances
    float32 (q, k))``, nearest first, -1 / inf padded. Exact (blocked BLAS) up to
    ``exact_max`` base rows or ``exact_max`` queries (an update's few new rows: at 128-d an
    HNSW index costs ~170 µs a base row to build, an exact search ~13 ns a query-base pair),
    else nmslib HNSW. A query that is a base row finds itself."""
    space = check_space(space)
    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    take = min(k, len(base))
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    if take == 0 or len(queries) == 0:
        return ids, np.full(ids.shape, np.inf, np.float32)
    if len(base) <= exact_max or len(queries) <= exact_max:
        prep = Prepared.of(base, space)
        block = max(1, _BLOCK_CELLS // len(base))
        for lo in range(0, len(queries), block):
            D = prep.distances(queries[lo:lo + block])
            part = (np.argpartition(D, take - 1, axis=1)[:, :take] if take < len(base)
                    else np.arange(len(base))[None, :].repeat(len(D), 0))
            ids[lo:lo + block, :take] = part
    else:
        threads = threads or _task_threads()
        ids[:, :take] = query_index(build_index(base, space, threads), queries, take, ef, threads)
    dist = _row_distances(base, queries, ids, space)
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(ids, order, 1), np.take_along_axis(dist, order, 1)


def _row_distances(base: np.ndarray, queries: np.ndarray, ids: np.ndarray, space: str
                   ) -> np.ndarray:
    """Float32 distance of each query to each of its ids (inf for -1)."""
    if space == "cosine":
        base = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
    out = np.full(ids.shape, np.inf, dtype=np.float32)
    block = max(1, 4_000_000 // max(ids.shape[1] * base.shape[1], 1))
    for lo in range(0, len(queries), block):
        i = ids[lo:lo + block]
        V = base[np.maximum(i, 0)]
        q = queries[lo:lo + block, None, :]
        d = (np.sqrt(((V - q) ** 2).sum(-1)) if space == "l2"
             else np.clip(1.0 - (V * q).sum(-1), 0.0, 2.0))
        out[lo:lo + block] = np.where(i >= 0, d, np.inf)
    return out


def _task_threads() -> int:
    """The threads of the Dask worker this task runs on, else the cores of this process."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return max(1, int(get_worker().state.nthreads))
        except (ImportError, ValueError, AttributeError):
            pass
    return default_threads()


def local_runner(fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
    """Run the tasks in this process, one after another."""
    for i, args in enumerate(tasks):
        yield i, fn(*args)


def dask_runner(client: Any, in_flight: int | None = None) -> Runner:
    """A runner over a ``distributed.Client``: arrays are scattered, at most ``in_flight``
    tasks (default: one per worker) are on the cluster at once, results released as read."""

    def run(fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        limit = in_flight or max(1, len(client.scheduler_info().get("workers", {})))
        tag = uuid.uuid4().hex[:8]
        pending = iter(enumerate(tasks))
        number: dict[str, int] = {}
        done = as_completed()

        def submit() -> bool:
            nxt = next(pending, None)
            if nxt is None:
                return False
            i, args = nxt
            args = [client.scatter(a, hash=False) if isinstance(a, np.ndarray) else a
                    for a in args]
            fut = client.submit(fn, *args, key=f"xdeg-knn-partition-{tag}-{i}", pure=False)
            number[fut.key] = i
            done.add(fut)
            return True

        for _ in range(limit):
            submit()
        for fut in done:
            result = fut.result()
            i = number.pop(fut.key)
            fut.release()
            yield i, result
            submit()

    return run


def cluster_runner() -> Runner | None:
    """A runner over the Dask cluster when this code runs as a Dask task, else None."""
    client_of = worker_client()
    if client_of is None:
        return None

    def run(fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        with client_of() as client:
            yield from dask_runner(client)(fn, tasks)

    return run


def partition_count(n: int, rows: int = params.KNN_PARTITION_ROWS) -> int:
    """Partitions for ``n`` vectors: about ``rows`` indexed per partition, at least 2."""
    return max(2, -(-n // max(rows, 1)))


def partitioned_knn_edges(
    X: np.ndarray,
    k: int = params.KNN_K,
    space: str = params.KNN_SPACE,
    partitions: int | None = None,
    overlap: int = params.KNN_PARTITION_OVERLAP,
    margin: float | None = params.KNN_PARTITION_MARGIN,
    runner: Runner | None = None,
    exact_max: int | None = None,
    threads: int | None = None,
    ef: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, PartitionInfo]:
    """The kNN edge table of the rows of X (as :func:`.knn.knn_edges`) from ``partitions``
    k-means partitions (default :func:`partition_count`), each vector searched in its
    ``overlap`` nearest within ``margin`` (see :func:`nearest_partitions`; None: all
    ``overlap``); tasks run by ``runner`` (default: in this process)."""
    t0 = time.perf_counter()
    space = check_space(space)
    X = checked_features(X)
    n = X.shape[0]
    k = min(int(k), n - 1)
    _, rep, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    m = len(rep)
    P = partitions or partition_count(m)
    if k <= 0 or P < 2 or m < 2 * P * (k + 1):
        edges = knn_edges(X, k=max(k, 1), space=space, threads=threads, exact_max=exact_max)
        return edges, PartitionInfo(1, 1, m, m, "single")
    U = np.ascontiguousarray(X[rep])
    centres = kmeans_centres(U, P, seed=seed)
    t1 = time.perf_counter()
    ids, info = routed_neighbours(U, None, k + 1, space, centres, overlap, margin,
                                  runner, exact_max, threads, ef)
    t2 = time.perf_counter()
    edges = edge_table(X, ids, k, space, inverse, rep)
    routing, tasks, merge = info.seconds
    seconds = (round(t1 - t0 + routing, 2), tasks, round(merge + time.perf_counter() - t2, 2))
    return edges, dataclasses.replace(info, seconds=seconds)


def routed_neighbours(
    X: np.ndarray,
    rows: np.ndarray | None,
    take: int,
    space: str,
    centres: np.ndarray,
    overlap: int = params.KNN_PARTITION_OVERLAP,
    margin: float | None = params.KNN_PARTITION_MARGIN,
    runner: Runner | None = None,
    exact_max: int | None = None,
    threads: int | None = None,
    ef: int | None = None,
    queries: np.ndarray | None = None,
) -> tuple[np.ndarray, PartitionInfo]:
    """The ``take`` nearest rows of X to each of ``rows`` (``(len(rows), take)`` row ids of X,
    nearest first, -1 padded; a row finds itself), searched partition by partition: every row
    of X is indexed in the partition of its nearest centre, each of ``rows`` is searched in
    its nearest partitions (:func:`nearest_partitions`), one task per partition (``runner``),
    the candidate lists merged. A full build searches every row (``rows`` None: no copy of
    X, one routing pass); an update only the new. ``queries``: vectors to search for instead
    of rows of X (``rows`` is then ignored; the graph's exit search)."""
    t0 = time.perf_counter()
    itself = rows is None and queries is None
    if queries is not None:
        Q = np.ascontiguousarray(queries, dtype=np.float32)
    else:
        Q = X if rows is None else X[np.asarray(rows, dtype=np.int64)]
    near = nearest_partitions(Q, centres, overlap, space, margin)
    home = near[:, 0] if itself else nearest_partitions(X, centres, 1, space)[:, 0]
    P, over = len(centres), near.shape[1]
    bases = [np.flatnonzero(home == p) for p in range(P)]
    routed = [np.flatnonzero((near == p).any(axis=1)) for p in range(P)]
    emax = params.KNN_EXACT_MAX if exact_max is None else exact_max
    tasks = [(X[b], Q[r], take, space, emax, threads, ef) for b, r in zip(bases, routed)]
    cand = np.full((len(Q), over * take), -1, dtype=np.int32)  # ids < 2**31
    cdist = np.full(cand.shape, np.inf, dtype=np.float32)
    slot = {p: np.argmax(near[routed[p]] == p, axis=1) for p in range(P)}
    engine = "local" if runner in (None, local_runner) else "dask"
    t_tasks = time.perf_counter()
    for p, (ids, dist) in (runner or local_runner)(partition_neighbours, tasks):
        at, cols = routed[p], slot[p][:, None] * take + np.arange(take)
        cand[at[:, None], cols] = np.where(ids >= 0, bases[p][np.maximum(ids, 0)], -1)
        cdist[at[:, None], cols] = dist
        tasks[p] = ()  # the partition's vectors are no longer needed here
    t_merge = time.perf_counter()
    ids = _nearest_candidates(cand, cdist, take)
    del cand, cdist
    seconds = (round(t_tasks - t0, 2), round(t_merge - t_tasks, 2),
               round(time.perf_counter() - t_merge, 2))
    info = PartitionInfo(P, over, max(map(len, bases)), max(map(len, routed)), engine,
                         round(float((near >= 0).sum()) / max(len(Q), 1), 3), seconds)
    return ids, info


def _nearest_candidates(cand: np.ndarray, cdist: np.ndarray, take: int) -> np.ndarray:
    """Each row's ``take`` nearest candidates (ids, -1 padded), in blocks of rows."""
    take = min(take, cand.shape[1])
    out = np.empty((len(cand), take), dtype=np.int64)
    block = 65_536
    for lo in range(0, len(cand), block):
        d = cdist[lo:lo + block]
        part = np.argpartition(d, take - 1, axis=1)[:, :take] if take < d.shape[1] else \
            np.argsort(d, axis=1)
        out[lo:lo + block] = np.take_along_axis(cand[lo:lo + block], part, axis=1)
    return out
