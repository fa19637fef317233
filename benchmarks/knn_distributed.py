"""The kNN table in k-means partitions on a local Dask cluster beside the one-process stage.

    python -m benchmarks.knn_distributed --n 100000 --partitions 8 --workers 2

Clustered synthetic vectors of the PCA dimension (``params.PCA_COMPONENTS``; Zipf-sized
clusters on a 16-d latent manifold, ``benchmarks.graph_scale.synthetic``), k and space from
:mod:`xdeg_pipeline.core.params`. Two fresh processes read the same vectors:

* *single*: :func:`~xdeg_pipeline.core.graph.knn.knn_edges` (what the knn_edges stage runs
  below its partition threshold) with ``workers x threads`` threads;
* *distributed*: :func:`~xdeg_pipeline.core.graph.knn_partitioned.partitioned_knn_edges` with
  ``--partitions`` partitions as tasks on a ``LocalCluster`` of ``--workers`` worker processes
  of ``--threads`` threads each; this process (the Dask client) holds the vectors and merges.

Peak memory is each process's own high-water mark (``ru_maxrss``), read right after the table
is made (workers: over their lifetime, so it includes Dask itself). Recall@k against exact search
on ``--recall-sample`` rows, counted as :func:`~xdeg_pipeline.core.graph.knn.knn_recall` does.

``--exits`` also runs the graph step's search over all vectors, the distinct exits
(:func:`~xdeg_pipeline.core.graph.exits.exit_edges`), both ways on the single process's kNN
table: one HNSW index over the net in one process, and the net in ``--partitions`` partitions
as tasks on the local cluster (what the ``similarity_graph`` stage runs above
``knn_partition_above``); agreement is the share of the one-index exits the partitioned search
also made (the exits are the nearest distinct pictures, so an approximate search may pick
others as near). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.knn import knn_edges, knn_recall

GB = 1024**3


def peak_rss_gb() -> float:
    """This process's peak resident memory so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


def run_single(X: np.ndarray, args: argparse.Namespace) -> tuple[object, dict]:
    t0 = time.perf_counter()
    edges = knn_edges(X, k=args.k, space=params.KNN_SPACE, threads=args.workers * args.threads)
    return edges, {"wall_s": time.perf_counter() - t0}


def run_distributed(X: np.ndarray, args: argparse.Namespace) -> tuple[object, dict]:
    from distributed import Client, LocalCluster

    from xdeg_pipeline.core.graph.knn_partitioned import dask_runner, partitioned_knn_edges

    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True,
                      dashboard_address=None, memory_limit=0) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("xdeg_pipeline.core.graph.knn_partitioned"))
        base = client.run(peak_rss_gb)  # a worker with Dask and xdeg imported
        t0 = time.perf_counter()
        edges, info = partitioned_knn_edges(X, k=args.k, space=params.KNN_SPACE,
                                            partitions=args.partitions,
                                            runner=dask_runner(client))
        wall = time.perf_counter() - t0
        peaks = client.run(peak_rss_gb)
    return edges, {"wall_s": wall, "worker_peak_rss_gb": sorted(peaks.values()),
                   "worker_base_rss_gb": max(base.values()), **info.facts()}


def _exits(X: np.ndarray, table: str, runner, partition_above: int, partitions: int | None = None
           ) -> tuple[object, float]:
    """The distinct exits of X over the kNN table saved at ``table``, and their wall time."""
    from xdeg_pipeline.core.graph.build import pair_median
    from xdeg_pipeline.core.graph.exits import exit_edges
    from xdeg_pipeline.core.graph.near_duplicates import nearest_distances, step_scale

    t = np.load(table)
    src, dst, w = t["src"], t["dst"], t["w"]
    near_dup = params.NEAR_DUP_FRACTION * pair_median(X, params.KNN_SPACE)
    natural = step_scale(nearest_distances(len(X), src, dst, w), near_dup).natural
    t0 = time.perf_counter()
    found = exit_edges(X, src, dst, w, params.KNN_SPACE, near_dup, natural,
                       partition_above=partition_above, runner=runner, partitions=partitions)
    return found, time.perf_counter() - t0


def run_exits(role: str, X: np.ndarray, args: argparse.Namespace) -> dict:
    """The exit search in one process (``exits-single``) or partitioned on a local cluster."""
    if role == "exits-single":
        found, wall = _exits(X, args.table, None, 0)
        out = {"wall_s": wall}
    else:
        from distributed import Client, LocalCluster

        from xdeg_pipeline.core.graph.knn_partitioned import dask_runner

        with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                          processes=True, dashboard_address=None, memory_limit=0) as cluster, \
                Client(cluster) as client:
            client.run(lambda: __import__("xdeg_pipeline.core.graph.knn_partitioned"))
            found, wall = _exits(X, args.table, dask_runner(client), 1, args.partitions)
            out = {"wall_s": wall, "worker_peak_rss_gb": sorted(client.run(peak_rss_gb).values())}
    np.save(args.table.replace(".npz", f"-{role}.npy"), np.stack([found.a, found.b]))
    return {**out, "exits": len(found.a), "exit_rows": found.info["exit_rows"],
            "exit_search": found.info["exit_search"], "peak_rss_gb": peak_rss_gb()}


def child(role: str, vectors: str, args: argparse.Namespace) -> None:
    """One side of the comparison in this (fresh) process; prints one JSON line."""
    X = np.load(vectors)
    if role.startswith("exits"):
        print(json.dumps(run_exits(role, X, args)))
        return
    edges, out = (run_single if role == "single" else run_distributed)(X, args)
    out["peak_rss_gb"] = peak_rss_gb()
    out["edges"] = len(edges)
    out["recall_at_k"] = knn_recall(X, edges, args.k, sample=args.recall_sample,
                                    space=params.KNN_SPACE)
    if role == "single" and args.table:  # the kNN pairs the exit search starts from
        src = edges["source"].to_numpy(np.int64)
        dst = edges["target"].to_numpy(np.int64)
        np.savez(args.table, src=src, dst=dst, w=edges["distance"].to_numpy(np.float64))
    print(json.dumps(out))


def spawn(role: str, vectors: Path, argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.knn_distributed", *argv,
                           "--role", role, "--vectors", str(vectors)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{role} run failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare_exits(vectors: Path, table: str, passed: list[str], args) -> dict:
    """The exit search both ways (fresh processes), printed and as JSON fields."""
    one = spawn("exits-single", vectors, passed)
    part = spawn("exits-distributed", vectors, passed)
    a, b = (np.load(table.replace(".npz", f"-{r}.npy")) for r in ("exits-single",
                                                                  "exits-distributed"))
    same = len({*zip(*a.tolist())} & {*zip(*b.tolist())}) / max(a.shape[1], 1)
    peak = max(part["worker_peak_rss_gb"])
    print(f"exit search ({one['exit_rows']} images lacking distinct pictures): one index "
          f"{one['wall_s']:.1f} s, peak {one['peak_rss_gb']:.2f} GB, {one['exits']} exits; "
          f"partitioned ({part['exit_search']}) {part['wall_s']:.1f} s, worker peak {peak:.2f} "
          f"GB, client peak {part['peak_rss_gb']:.2f} GB, {part['exits']} exits, "
          f"{same:.1%} of the one-index exits")
    return {"exit_rows": one["exit_rows"], "exits_single": one["exits"],
            "exits_partitioned": part["exits"], "exits_search": part["exit_search"],
            "exits_agreement": round(same, 4), "exits_wall_s": round(part["wall_s"], 2),
            "exits_single_process_wall_s": round(one["wall_s"], 2),
            "exits_peak_worker_rss_gb": round(peak, 3),
            "exits_client_peak_rss_gb": round(part["peak_rss_gb"], 3),
            "exits_single_process_peak_rss_gb": round(one["peak_rss_gb"], 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.knn_distributed")
    ap.add_argument("--n", type=int, default=100_000, help="vectors")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--k", type=int, default=params.KNN_K)
    ap.add_argument("--dim", type=int, default=params.PCA_COMPONENTS or 128)
    ap.add_argument("--recall-sample", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exits", action="store_true",
                    help="also the graph step's exit search, one index vs partitioned")
    ap.add_argument("--role", choices=("single", "distributed", "exits-single",
                                       "exits-distributed"), help=argparse.SUPPRESS)
    ap.add_argument("--vectors", help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.role:
        child(args.role, args.vectors, args)
        return 0
    from benchmarks.graph_scale import synthetic

    passed = [a for a in (sys.argv[1:] if argv is None else argv)]
    with tempfile.TemporaryDirectory(prefix="xdeg-knn-distributed-") as tmp:
        vectors = Path(tmp) / "vectors.npy"
        np.save(vectors, synthetic(args.n, args.dim, args.seed))
        table = str(Path(tmp) / "knn.npz")
        passed += ["--table", table] if args.exits else []
        single = spawn("single", vectors, passed)
        print(f"single process: {single['wall_s']:.1f} s, peak {single['peak_rss_gb']:.2f} GB, "
              f"recall@{args.k} {single['recall_at_k']:.4f}", flush=True)
        dist = spawn("distributed", vectors, passed)
        exits = _compare_exits(vectors, table, passed, args) if args.exits else {}
    peak = max(dist["worker_peak_rss_gb"])
    print(f"partitioned ({dist['partitions']} partitions, {args.workers} workers): "
          f"{dist['wall_s']:.1f} s, worker peak {peak:.2f} GB, client peak "
          f"{dist['peak_rss_gb']:.2f} GB, recall@{args.k} {dist['recall_at_k']:.4f}")
    out = {
        "n": args.n, "k": args.k, "dim": args.dim, "partitions": dist["partitions"],
        "workers": args.workers, "threads_per_worker": args.threads,
        "recall_at_k": round(dist["recall_at_k"], 4),
        "single_process_recall_at_k": round(single["recall_at_k"], 4),
        "wall_s": round(dist["wall_s"], 2), "single_process_wall_s": round(single["wall_s"], 2),
        "wall_ratio": round(dist["wall_s"] / max(single["wall_s"], 1e-9), 3),
        "peak_worker_rss_gb": round(peak, 3),
        "worker_base_rss_gb": round(dist["worker_base_rss_gb"], 3),
        "client_peak_rss_gb": round(dist["peak_rss_gb"], 3),
        "single_process_peak_rss_gb": round(single["peak_rss_gb"], 3),
        "worker_over_single_peak": round(peak / max(single["peak_rss_gb"], 1e-9), 3),
        "largest_indexed": dist["largest_indexed"], "largest_searched": dist["largest_searched"],
        "searched_per_vector": dist["searched_per_vector"],
        "seconds_routing": dist["seconds_routing"], "seconds_tasks": dist["seconds_tasks"],
        "seconds_merge": dist["seconds_merge"],
        "recall_sample": args.recall_sample,
        **exits,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
