"""The similarity graph after a small change: what the stage spends, and the hub load updated
from the previous graph's against a fresh estimate.

    python -m benchmarks.graph_update [--sizes 4000,20000] [--add 0.01] [--series 25]

Clustered synthetic vectors of the PCA dimension (``params.PCA_COMPONENTS``), kNN with the
pipeline's k and space. With ``--series S`` half of the images come as series of S close
variants (the spread of a series 1 % to 3 % of a cluster's), the rest as single images: the kNN
lists of a series longer than k hold only each other, so the graph gets its distinct exits
(:mod:`xdeg_pipeline.core.graph.exits`), which plain clusters never need; ``exits`` in the
output counts them.

For each size ``n``: the graph of ``n`` images with a fresh hub load, then ``add * n`` images
added; on the grown graph, CPU seconds (one thread's process time, far
steadier than wall time on a shared machine) of the structure built in bulk
(:func:`~xdeg_pipeline.core.graph.build.build_graph`), of the load as before issue 20 (a fresh
estimate, then the kept images' load carried: :func:`~xdeg_pipeline.core.paths.load.
attach_hub_load`) and of the update (:func:`~xdeg_pipeline.core.paths.load_update.
update_hub_load`); and, for the added images, how far the updated load is from the fresh one
(mean absolute difference, correlation, against their fresh mean and the 99th percentile over
all images). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.knn_update import clustered
from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline.core.paths.load_update import update_hub_load


def _cpu(fn, *args, **kwargs):
    c0 = time.process_time()
    out = fn(*args, **kwargs)
    return time.process_time() - c0, out


def in_series(n: int, d: int, series: int, seed: int) -> np.ndarray:
    """``n`` vectors of :func:`clustered` pictures, half of them as series of ``series`` close
    variants and half as single images (an uneven collection: a collection of series only has
    no natural step above its variants), in a random order, so the images added are variants
    of many series and single images."""
    rng = np.random.default_rng(seed + 1)
    in_runs = -(-(n // 2) // series)
    base = clustered(in_runs + n - n // 2, d, seed)
    spread = rng.uniform(0.01, 0.03, (in_runs, 1)).repeat(series, 0)
    runs = base[:in_runs].repeat(series, 0) + rng.normal(0, 1, (in_runs * series, d)) * spread
    X = np.concatenate([runs[: n // 2], base[in_runs:]])
    return X[rng.permutation(n)].astype(np.float32)


def measure(n: int, add: float, seed: int = 0, series: int = 0) -> dict:
    """One size: CPU seconds of each part and the agreement of the added images' load."""
    m = max(1, round(n * add))
    d = params.PCA_COMPONENTS
    X = in_series(n + m, d, series, seed) if series > 1 else clustered(n + m, d, seed)
    hashes = [f"{i:064x}" for i in range(n + m)]

    def graph(rows: int):
        return build_graph(knn_edges(X[:rows], k=params.KNN_K, space=params.KNN_SPACE),
                           X[:rows], vertex_attrs={"content_hash": hashes[:rows]})

    first = attach_hub_load(graph(n), None, basis="bench")
    edges = knn_edges(X, k=params.KNN_K, space=params.KNN_SPACE)
    t_structure, grown = _cpu(build_graph, edges, X, vertex_attrs={"content_hash": hashes})
    t_fresh, fresh = _cpu(attach_hub_load, grown.copy(), first, basis="bench")
    t_update, (updated, how) = _cpu(update_hub_load, grown.copy(), first, basis="bench")
    a = np.asarray(fresh.vs["load"])[n:]
    b = np.asarray(updated.vs["load"])[n:]
    corr = float(np.corrcoef(a, b)[0, 1]) if m > 1 and a.std() > 0 and b.std() > 0 else None
    return {"n": n, "added": m, "mode": how.mode, "series": series,
            "exits": int(grown["params"].get("exits", 0)),
            "exit_search": grown["params"].get("exit_search"),
            "structure_cpu_s": round(t_structure, 3),
            "load_fresh_cpu_s": round(t_fresh, 3), "load_update_cpu_s": round(t_update, 3),
            "new_load_mae": round(float(np.abs(a - b).mean()), 5),
            "new_load_fresh_mean": round(float(a.mean()), 5),
            "load_p99_all": round(float(np.quantile(fresh.vs["load"], 0.99)), 5),
            "new_load_corr": None if corr is None else round(corr, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_update",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,20000", help="images before the change")
    parser.add_argument("--add", type=float, default=0.01, help="fraction added")
    parser.add_argument("--series", type=int, default=0,
                        help="half of the images as series of this many close variants, "
                        "half single (0: clustered images only)")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        row = measure(n, args.add, series=args.series)
        rows.append(row)
        print(f"{n} + {row['added']} ({row['mode']}; {row['exits']} exits, "
              f"{row['exit_search']}): CPU s structure {row['structure_cpu_s']}"
              f", load fresh + carry {row['load_fresh_cpu_s']}, load update "
              f"{row['load_update_cpu_s']}; added images' load: MAE {row['new_load_mae']} "
              f"(fresh mean {row['new_load_fresh_mean']}, p99 all {row['load_p99_all']}), "
              f"corr {row['new_load_corr']}")
    print(json.dumps({"add": args.add, "series": args.series, "rows": rows}))


if __name__ == "__main__":
    main()
