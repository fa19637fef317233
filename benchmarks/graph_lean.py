"""The graph step's time and peak memory: graph build, hub load, path-finder set-up.

    python -m benchmarks.graph_lean [--sizes 100000,1000000] [--dim 128] [--k 20]
        [--queries 10] [--work DIR]

For each size, in fresh processes (peak memory is each child's own ``VmHWM``, read per phase
after resetting it, and its whole-life peak from ``wait4``):

* ``knn``: synthetic clustered vectors (``graph_scale.synthetic``) and their kNN edge table,
  written once to ``--work`` (kept between runs: a second run reuses them).
* ``stage``: what the ``similarity_graph`` stage does: ``build_graph`` with the vertex
  attributes the asset stores, the previous graph loaded (the pickle a rebuild replaces;
  before the build where the stage reduces it to its load, ``PreviousLoad``, after it before;
  the first run has none, so the stage is run twice and the rebuild is reported, unless
  ``--once``) and
  ``attach_hub_load``, then the pickle written.
* ``finder``: the pickle loaded lean (arrays, no igraph object) and ``PathFinder`` set up,
  as ``requested_paths`` and the explorer server do (``core.query.Collection``); then
  ``smooth``/``shortest``/``steps`` chains between seeded pairs, whose vertices are digested
  (``chains_sha1``: equal digests, equal answers across code versions).

Ratios: each phase's peak over the vectors and edges it starts from (``build``), and the
largest size's time and peak over the smallest's. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.scale_model import _reset_peak, _rss, _status_bytes, synthetic_vectors, vertex_attrs
from xdeg_pipeline.core import params

REPO_ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3


def _phase(out: dict, name: str, t0: float) -> None:
    """Record a phase's seconds and peak RSS (VmHWM since the last reset), then reset it."""
    out[f"{name}_s"] = round(time.perf_counter() - t0, 3)
    out[f"{name}_peak_gb"] = round((_status_bytes("VmHWM") or 0) / GB, 3)
    _reset_peak()


def child_knn(spec: dict, out: dict) -> None:
    from xdeg_pipeline.core.graph.knn import knn_edges

    X = synthetic_vectors(spec["n"], spec["dim"], spec["seed"])
    t0 = time.perf_counter()
    edges = knn_edges(X, k=spec["k"])
    _phase(out, "knn", t0)
    np.savez(Path(spec["work"]) / f"edges_{spec['n']}.npz",
             **{c: edges[c].to_numpy() for c in edges.columns})


def child_stage(spec: dict, out: dict) -> None:
    import pandas as pd

    from xdeg_pipeline.core.graph.build import build_graph, load_graph, save_graph
    from xdeg_pipeline.core.paths.load import attach_hub_load

    try:  # the stage reads the previous graph's load before it builds (this version on)
        from xdeg_pipeline.core.paths.load import PreviousLoad
    except ImportError:
        PreviousLoad = None  # noqa: N806 (a class or None)

    n, work = spec["n"], Path(spec["work"])
    X = synthetic_vectors(n, spec["dim"], spec["seed"])
    with np.load(work / f"edges_{n}.npz") as z:
        edges = pd.DataFrame({c: z[c] for c in z.files})
    attrs = vertex_attrs(n, spec["seed"])
    out["inputs_gb"] = round(_rss() / GB, 3)
    _phase(out, "inputs", time.perf_counter())
    path = work / f"graph_{n}.pkl"
    if PreviousLoad is not None:  # as the stage does: the old graph's load read first
        t0 = time.perf_counter()
        previous = PreviousLoad.of(load_graph(path, allowed_root=work)) if path.exists() else None
        _phase(out, "previous", t0)
    t0 = time.perf_counter()
    g = build_graph(edges, X, vertex_attrs=attrs)
    _phase(out, "build", t0)
    if PreviousLoad is None:  # code without PreviousLoad: the old graph loaded after the build
        t0 = time.perf_counter()
        previous = load_graph(path, allowed_root=work) if path.exists() else None
        _phase(out, "previous", t0)
    out["previous"] = path.exists()
    t0 = time.perf_counter()
    attach_hub_load(g, previous, basis="bench")
    del previous
    _phase(out, "hub", t0)
    t0 = time.perf_counter()
    save_graph(g, path)
    _phase(out, "save", t0)
    out["edges"] = g.ecount()


def child_finder(spec: dict, out: dict) -> None:
    from xdeg_pipeline.core.graph.build import load_graph_lean
    from xdeg_pipeline.core.paths import PathError, PathFinder

    work = Path(spec["work"])
    _reset_peak()
    t0 = time.perf_counter()
    g = load_graph_lean(work / f"graph_{spec['n']}.pkl", allowed_root=work)
    _phase(out, "load", t0)
    out["graph_gb"] = round(_rss() / GB, 3)
    t0 = time.perf_counter()
    finder = PathFinder(g)
    _phase(out, "finder", t0)
    out["finder_gb"] = round(_rss() / GB, 3)
    rng = np.random.default_rng(spec["seed"])
    digest, times = hashlib.sha1(), []
    for _ in range(spec["queries"]):
        s, t = (int(v) for v in rng.choice(g.vcount(), 2, replace=False))
        for kw in ({"mode": "smooth"}, {"mode": "shortest"}, {"mode": "steps", "steps": 5}):
            t0 = time.perf_counter()
            try:
                chain = finder.find(s, t, **kw)[0].vertices
            except PathError as exc:
                chain = [str(exc)]
            if kw["mode"] == "smooth":
                times.append(time.perf_counter() - t0)
            digest.update(repr((s, t, kw["mode"], chain)).encode())
    out["chains_sha1"] = digest.hexdigest()
    out["smooth_ms_p50"] = round(1000 * float(np.median(times)), 1) if times else None


def child(spec: dict) -> None:
    out: dict = {"start_peak_gb": round((_status_bytes("VmHWM") or 0) / GB, 3)}
    {"knn": child_knn, "stage": child_stage, "finder": child_finder}[spec["stage"]](spec, out)
    # the phases reset the peak counter: the process's peak is the largest phase's
    out["process_peak_gb"] = max(v for k, v in out.items() if k.endswith("_peak_gb"))
    print("XDEG-RESULT " + json.dumps(out), flush=True)


def run_child(spec: dict) -> dict:
    """One child in a fresh interpreter; its result (time and peak RSS of each phase)."""
    cmd = [sys.executable, "-m", "benchmarks.graph_lean", "--child", json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO_ROOT)
        text = proc.stdout.read()
        proc.stdout.close()
        status = proc.wait()
        err.seek(0)
        tail = err.read().strip().splitlines()[-3:]
    lines = [ln for ln in text.splitlines() if ln.startswith("XDEG-RESULT ")]
    if status != 0 or not lines:
        raise SystemExit(f"{spec['stage']} n={spec['n']} failed: " + " | ".join(tail))
    return json.loads(lines[-1][len("XDEG-RESULT "):])


def measure(n: int, args: argparse.Namespace) -> dict:
    spec = {"n": n, "dim": args.dim, "k": args.k, "seed": args.seed, "work": str(args.work),
            "queries": args.queries}
    row: dict = {"n": n}
    if not (args.work / f"edges_{n}.npz").exists():
        row["knn"] = run_child({**spec, "stage": "knn"})
    stage = run_child({**spec, "stage": "stage"})
    if not stage["previous"] and not args.once:  # a rebuild replaces a graph: measure that
        row["first_build"] = stage
        stage = run_child({**spec, "stage": "stage"})
    row["stage"], row["finder"] = stage, run_child({**spec, "stage": "finder"})
    s, f = row["stage"], row["finder"]
    print(f"n={n}: build {s['build_s']:.1f} s peak {s['build_peak_gb']:.2f} GB "
          f"(inputs {s['inputs_gb']:.2f} GB); previous graph {s['previous_s']:.1f} s "
          f"peak {s['previous_peak_gb']:.2f} GB; hub load {s['hub_s']:.1f} s peak "
          f"{s['hub_peak_gb']:.2f} GB; stage process peak {s['process_peak_gb']:.2f} GB",
          flush=True)
    print(f"  finder: load {f['load_s']:.1f} s peak {f['load_peak_gb']:.2f} GB; set-up "
          f"{f['finder_s']:.1f} s peak {f['finder_peak_gb']:.2f} GB (holds {f['finder_gb']:.2f}"
          f" GB); process peak {f['process_peak_gb']:.2f} GB; smooth p50 {f['smooth_ms_p50']} ms;"
          f" chains {f['chains_sha1'][:12]}", flush=True)
    row["build_peak_over_inputs"] = round(s["build_peak_gb"] / max(s["inputs_gb"], 1e-9), 2)
    return row


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(json.loads(argv[1]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dim", type=int, default=params.PCA_COMPONENTS or 128)
    ap.add_argument("--k", type=int, default=params.KNN_K)
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--once", action="store_true",
                    help="run the stage once even when there is no previous graph to replace")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for the edges and graphs (default: a temporary one)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        args.work = Path(args.work or tmp)
        args.work.mkdir(parents=True, exist_ok=True)
        rows = [measure(n, args) for n in sizes]
    report: dict = {"dim": args.dim, "k": args.k, "rows": rows}
    if len(rows) > 1:
        lo, hi = rows[0], rows[-1]
        report["largest_over_smallest"] = {
            f"{part}.{key}": round(hi[part][key] / max(lo[part][key], 1e-9), 2)
            for part, key in (("stage", "build_s"), ("stage", "hub_s"), ("finder", "finder_s"),
                              ("stage", "process_peak_gb"), ("finder", "process_peak_gb"))}
        print(f"{hi['n']} over {lo['n']}: {report['largest_over_smallest']}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
