"""Query time of two settings of the path finder, interleaved on one graph in one process.

    python -m benchmarks.query_settings [--n 8000] [--dim 64] [--k 20] [--pairs 200]
        [--mode smooth] [--reference NAME=V,NAME=V] [--candidate NAME=V,...] [--seed 0]

The graph is ``benchmarks.graph_scale``'s synthetic clustered vectors (``--n`` of them) with
their kNN edges, built as the pipeline builds it; the finders get the vectors, as the
pipeline's do. ``--reference`` and ``--candidate`` are ``PathFinder`` keywords (empty: the
defaults of ``core/params.py``); each pair is asked of the reference, then of the candidate, so
both see the same machine load. E.g. the spare step of issue 21 against the settings before it:
``--reference spare_steps=0,skip_short=0.4``. Prints p50 / p90 query times, hops and the
candidate's p50 over the reference's. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.graph_scale import synthetic
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder


def settings(text: str) -> dict:
    """``NAME=V,NAME=V`` as PathFinder keywords (numbers as int or float)."""
    out: dict = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, _, value = item.partition("=")
        out[key.strip().replace("-", "_")] = int(value) if value.lstrip("-").isdigit() \
            else float(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--mode", default="smooth")
    ap.add_argument("--reference", default="spare_steps=0,skip_short=0.4")
    ap.add_argument("--candidate", default="")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    X = synthetic(args.n, args.dim, args.seed)
    g = build_graph(knn_edges(X, k=args.k), X)
    runs = {"reference": settings(args.reference), "candidate": settings(args.candidate)}
    finders = {name: PathFinder(g, vectors=X, **kw) for name, kw in runs.items()}
    rng = np.random.default_rng(args.seed)
    pairs = [(int(s), int(t)) for s, t in rng.integers(0, args.n, (args.pairs, 2)) if s != t]
    times: dict = {name: [] for name in runs}
    hops: dict = {name: [] for name in runs}
    for s, t in pairs:
        for name, finder in finders.items():
            t0 = time.perf_counter()
            chain = finder.find(s, t, mode=args.mode)[0]
            times[name].append(time.perf_counter() - t0)
            hops[name].append(chain.hops)
    out: dict = {"n": args.n, "pairs": len(pairs), "mode": args.mode,
                 "settings": runs}
    for name in runs:
        out[name] = {"p50_ms": round(1000 * float(np.median(times[name])), 3),
                     "p90_ms": round(1000 * float(np.percentile(times[name], 90)), 3),
                     "hops_p50": float(np.median(hops[name]))}
        print(f"{name} {runs[name]}: p50 {out[name]['p50_ms']} ms, p90 "
              f"{out[name]['p90_ms']} ms, hops p50 {out[name]['hops_p50']}")
    out["candidate_over_reference_p50"] = round(
        out["candidate"]["p50_ms"] / max(out["reference"]["p50_ms"], 1e-9), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
