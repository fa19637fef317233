"""Scale: nmslib HNSW build/query/recall, igraph bulk build vs per-edge loop, path queries at 1M.

    python -m benchmarks.graph_scale [--sizes 10000,100000,1000000] [--dim 64] [--k 20]
        [--queries 20] [--graph-size 1000000]

* For each size: synthetic clustered vectors (a mixture of anisotropic Gaussian clusters with
  Zipf-like sizes and a 16-d latent structure embedded in ``--dim`` dims, like PCA'd image
  features), HNSW index build time, batch query time per vector, recall@k against exact
  (BLAS) search on 500 random queries.
* igraph on 8,000 vertices (``--igraph-size``) and their kNN edges: one bulk
  ``Graph(n=, edges=)`` plus one attribute assignment, against the original recipe's loop of
  ``add_edge`` calls; then the full ``build_graph`` and the p50 query time of each mode on that
  graph. The loop is quadratic (igraph re-indexes the graph on every call), so it is timed on
  growing prefixes and extrapolated to all edges with a fitted ``a*m + b*m^2`` when the full
  loop would take more than ``--loop-budget`` seconds (the output says whether it was
  extrapolated).
* On the ``--graph-size`` graph (the largest size's kNN edges): ``build_graph`` and
  ``PathFinder`` times and the p50 query time of each mode; peak memory (ru_maxrss).

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import (
    build_index,
    edge_table,
    exact_knn,
    query_index,
)
from xdeg_pipeline.core.paths import PathError, PathFinder


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Clustered vectors: Zipf-sized clusters on a 16-d latent manifold plus isotropic noise."""
    rng = np.random.default_rng(seed)
    n_clusters = max(10, n // 200)
    latent = 16
    centres = rng.normal(size=(n_clusters, latent)) * 2.0
    sizes = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    label = rng.choice(n_clusters, size=n, p=sizes / sizes.sum())
    spread = rng.uniform(0.3, 1.0, size=(n_clusters, 1))
    embed = rng.normal(size=(latent, dim)) / np.sqrt(latent)
    out = np.empty((n, dim), dtype=np.float32)
    step = 200_000
    for lo in range(0, n, step):
        lab = label[lo : lo + step]
        z = centres[lab] + spread[lab] * rng.normal(size=(len(lab), latent))
        out[lo : lo + step] = z @ embed + 0.05 * rng.normal(size=(len(lab), dim))
    return out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def recall_at_k(X: np.ndarray, index, k: int, sample: int, seed: int) -> tuple[float, float]:
    rows = np.random.default_rng(seed).choice(len(X), size=min(sample, len(X)), replace=False)
    t0 = time.perf_counter()
    ids = query_index(index, X[rows], k + 1)
    q_ms = 1000 * (time.perf_counter() - t0) / len(rows)
    _, true_d = exact_knn(X, k, "l2", rows=rows)
    hits = 0
    for r, row_ids, td in zip(rows, ids, true_d, strict=True):
        row_ids = row_ids[(row_ids >= 0) & (row_ids != r)][:k]
        d = np.linalg.norm(X[row_ids] - X[r], axis=1)
        hits += int((d <= td[-1] * (1 + 1e-5) + 1e-6).sum())
    return hits / (k * len(rows)), q_ms


def igraph_build(n: int, k: int, seed: int, loop_budget: float):
    import igraph as ig

    X = synthetic(n, 64, seed)
    index = build_index(X)
    edges = edge_table(X, query_index(index, X, k + 1), k, "l2")
    src, dst = edges["source"].to_numpy(), edges["target"].to_numpy()
    w = edges["distance"].to_numpy().astype(float)
    m = len(src)
    t0 = time.perf_counter()
    g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=True)
    g.es["weight"] = w.tolist()
    bulk = time.perf_counter() - t0
    # the original per-edge loop, on growing prefixes
    samples = []
    total_loop = None
    for size in (500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, m):
        size = min(size, m)
        g2 = ig.Graph(n=n, directed=True)
        t0 = time.perf_counter()
        for a, b, ww in zip(src[:size].tolist(), dst[:size].tolist(), w[:size].tolist(),
                            strict=True):
            g2.add_edge(a, b, weight=ww)
        dt = time.perf_counter() - t0
        samples.append((size, dt))
        if size == m:
            total_loop = dt
            break
        if dt * (m / size) ** 2 > loop_budget:  # the rest would take too long: extrapolate
            break
    if total_loop is None:
        sz = np.array([s for s, _ in samples], float)
        tt = np.array([t for _, t in samples], float)
        coef, *_ = np.linalg.lstsq(np.column_stack([sz, sz**2]), tt, rcond=None)
        total_loop = float(coef[0] * m + coef[1] * m * m)
    t0 = time.perf_counter()
    full = build_graph(edges, X)
    build_graph_s = time.perf_counter() - t0
    return {
        "edges": m,
        "build_graph_s": round(build_graph_s, 3),
        "bulk_s": round(bulk, 4),
        "per_edge_loop_s": round(total_loop, 2),
        "per_edge_extrapolated": samples[-1][0] != m,
        "loop_samples": [(s, round(t, 3)) for s, t in samples],
        "ratio_loop_over_bulk": round(total_loop / bulk, 1),
    }, full, X


def path_queries(g, queries: int, seed: int, vectors: np.ndarray | None = None) -> dict:
    """Query times of each mode; ``vectors``: the graph's, as a query server holds them (smooth
    then skips short series steps, measured with them)."""
    t0 = time.perf_counter()
    finder = PathFinder(g, vectors=vectors)
    init_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    n = g.vcount()
    pairs = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(queries)]
    out = {"finder_init_s": round(init_s, 2)}
    for label, kwargs in (
        ("bottleneck_value", None),
        ("shortest", {"mode": "shortest"}),
        ("smooth", {"mode": "smooth"}),
        ("steps7", {"mode": "steps", "steps": 7}),
    ):
        times, hops = [], []
        for s, t in pairs:
            t0 = time.perf_counter()
            if kwargs is None:
                finder.bottleneck(s, t)
            else:
                try:
                    hops.append(finder.find(s, t, **kwargs)[0].hops)
                except PathError:
                    pass
            times.append(time.perf_counter() - t0)
        out[label] = {"query_ms_p50": round(1000 * float(np.median(times)), 2),
                      "query_ms_p90": round(1000 * float(np.percentile(times, 90)), 2),
                      "hops_p50": float(np.median(hops)) if hops else None}
        print(f"  {label:16s} p50 {out[label]['query_ms_p50']:9.2f} ms  "
              f"p90 {out[label]['query_ms_p90']:9.2f} ms  hops p50 {out[label]['hops_p50']}",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=params.KNN_K)
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--recall-sample", type=int, default=500)
    ap.add_argument("--graph-size", type=int, default=None,
                    help="size for the path-query graph (default: the largest size)")
    ap.add_argument("--loop-budget", type=float, default=20.0)
    ap.add_argument("--igraph-size", type=int, default=8000,
                    help="vertices of the bulk-vs-loop igraph comparison")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    graph_size = args.graph_size or max(sizes)
    report: dict = {"dim": args.dim, "k": args.k, "hnsw": {"M": params.HNSW_M,
                    "efConstruction": params.HNSW_EF_CONSTRUCTION,
                    "efSearch": max(params.HNSW_EF_SEARCH, 2 * (args.k + 1))}, "sizes": {}}
    t_all = time.perf_counter()

    n8 = args.igraph_size
    ib, g8, X8 = igraph_build(n8, args.k, args.seed, args.loop_budget)
    report[f"igraph_{n8}"] = ib
    print(f"igraph, {n8} vertices, {ib['edges']} edges: bulk {ib['bulk_s']} s; per-edge loop "
          f"{ib['per_edge_loop_s']} s{' (extrapolated)' if ib['per_edge_extrapolated'] else ''}"
          f"; loop / bulk = {ib['ratio_loop_over_bulk']}x; full build_graph (bridges, "
          f"landmarks, hub load) {ib['build_graph_s']} s", flush=True)
    print(f"path queries on the {n8}-vertex graph:")
    report[f"paths_{n8}"] = path_queries(g8, max(args.queries, 50), args.seed, X8)
    del g8, X8

    for n in sizes:
        X = synthetic(n, args.dim, args.seed)
        t0 = time.perf_counter()
        index = build_index(X)
        build_s = time.perf_counter() - t0
        recall, q_ms = recall_at_k(X, index, args.k, args.recall_sample, args.seed)
        row = {"index_build_s": round(build_s, 2), "query_ms_per_vector": round(q_ms, 3),
               f"recall_at_{args.k}": round(recall, 4)}
        print(f"n={n}: HNSW build {build_s:.1f} s, query {q_ms:.3f} ms/vector, "
              f"recall@{args.k} {recall:.4f}  (peak {peak_mb():.0f} MB)", flush=True)
        if n == graph_size:
            t0 = time.perf_counter()
            ids = query_index(index, X, args.k + 1)
            edges = edge_table(X, ids, args.k, "l2")
            row["all_points_knn_s"] = round(time.perf_counter() - t0, 1)
            del index, ids
            t0 = time.perf_counter()
            g = build_graph(edges, X)
            row["build_graph_s"] = round(time.perf_counter() - t0, 1)
            row["graph"] = {k: g["params"][k] for k in ("n_edges", "components_before_bridging",
                                                       "bridges", "bridging", "long_edges")}
            print(f"  kNN of all points {row['all_points_knn_s']} s; build_graph "
                  f"{row['build_graph_s']} s; {row['graph']}", flush=True)
            del edges
            row["paths"] = path_queries(g, args.queries, args.seed, X)
        report["sizes"][str(n)] = row
    report["peak_rss_mb"] = round(peak_mb(), 0)
    report["total_s"] = round(time.perf_counter() - t_all, 1)
    print(f"peak memory {report['peak_rss_mb']} MB; total {report['total_s']} s")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
