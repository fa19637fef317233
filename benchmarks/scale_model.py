"""Scale model: time and peak memory of every stage at growing sizes, fitted and projected.

    python -m benchmarks.scale_model [--sizes 10000,100000,1000000] [--max-size N]
        [--image-sizes 64,128,256] [--stages extract,pca,knn,graph,paths] [--target 10000000]
        [--gpu-rate 5000] [--gpu-workers 1,4,16] [--extract-cores 1] [--threads T]

Every (stage, size) runs in a child process of its own, so its numbers are clean: the child
builds the stage's inputs, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``),
runs the stage once and reports the stage's time and its peak RSS (inputs included, as in the
pipeline's step); the parent also records the child's whole-life peak (``wait4`` rusage).

* extract: ``FeatureExtractor.extract`` (the default backbone, CPU, no loader processes) over
  real JPEGs of 256-512 px written to a temporary folder, pinned to ``--extract-cores`` cores
  (default 1: the per-core rate of a CPU worker). The model load and a warm-up batch are not
  timed.
* pca: what ``pca_features`` does: ``fit_pca`` on a sample of at most ``params.PCA_MAX_SAMPLES``
  rows, then ``PcaModel.transform`` one shard (1/16 of the rows) at a time, on synthetic
  ``--feature-dim`` features (a low-rank non-negative spectrum like pooled CNN features).
  Generating a shard's features is not timed.
* knn: ``knn.knn_edges`` (dedupe, nmslib HNSW build, query of every vector, exact distances) on
  clustered synthetic ``--dim``-d vectors (``graph_scale.synthetic``); the index's own memory is
  the RSS growth across ``build_index``, reported per vector.
* graph: ``build_graph`` on those vectors and edges, with the vertex attributes the asset stores
  (content hash, name, names).
* paths: ``PathFinder`` on the pickled graph (the one-time cost of serving path requests) and
  the p50 time of ``--queries`` smooth-mode queries.

For each stage a log-log fit ``time ~ a * n^b`` (b is printed) and a linear fit of peak memory
``base + bytes_per_item * n``; then the ``--target`` projection: extraction hours on one CPU core
(measured rate) and on N GPU workers (``--gpu-rate`` images/s each: a rate given, not measured
here, and labelled so in the output; 5,000 is the H100 target of
``benchmarks/feature_throughput.py``), memory of the kNN index (measured bytes per vector) and of
the graph, and the time of every CPU stage. The last line is one JSON object with everything.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from xdeg_pipeline.core import params

STAGES = ("extract", "pca", "knn", "graph", "paths")
VECTOR_STAGES = ("pca", "knn", "graph", "paths")
SHARDS = 16
REPO_ROOT = Path(__file__).resolve().parents[1]  # where ``-m benchmarks.scale_model`` resolves
MB = 1024 * 1024


# --------------------------------------------------------------------------- memory
def _status_bytes(field: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process from /proc, in bytes (None off Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the peak-RSS counter (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rss() -> int:
    gc.collect()
    return _status_bytes("VmRSS") or 0


# --------------------------------------------------------------------------- inputs
def write_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` JPEGs, 256-512 px a side (not square), smooth colour fields with shapes and noise."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = (int(v) for v in rng.integers(256, 513, size=2))
        coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
        img = Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 9))):
            x0, y0 = int(rng.integers(0, w - 16)), int(rng.integers(0, h - 16))
            x1, y1 = x0 + int(rng.integers(16, w // 2)), y0 + int(rng.integers(16, h // 2))
            fill = tuple(int(c) for c in rng.integers(0, 256, size=3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
        px = np.asarray(img, dtype=np.float32) + rng.normal(0, 6, size=(h, w, 3))
        path = folder / f"img_{i:06d}.jpg"
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(
            path, quality=int(rng.integers(80, 95))
        )
        out.append(path)
    return out


def synthetic_features(rows: int, dim: int, seed: int) -> np.ndarray:
    """Non-negative features with a decaying spectrum (a 64-d latent factor plus noise)."""
    basis_rng = np.random.default_rng(12345)  # the same axes for every chunk
    basis = basis_rng.standard_normal((64, dim)).astype(np.float32)
    basis *= (1.0 / np.arange(1, 65, dtype=np.float32) ** 0.7)[:, None]
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, 64), dtype=np.float32)
    x = z @ basis + 0.3 * rng.standard_normal((rows, dim), dtype=np.float32)
    return np.abs(x, out=x)


def synthetic_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    from benchmarks.graph_scale import synthetic

    return synthetic(n, dim, seed)


def vertex_attrs(n: int, seed: int) -> dict[str, list]:
    """Content hashes and names like the similarity_graph asset stores (one name per image)."""
    raw = np.random.default_rng(seed).bytes(32 * n).hex()
    hashes = [raw[64 * i : 64 * (i + 1)] for i in range(n)]
    names = [f"collection/{h[:2]}/{i:08d}.jpg" for i, h in enumerate(hashes)]
    return {"content_hash": hashes, "name": names, "names": [[s] for s in names]}


# --------------------------------------------------------------------------- stages (child)
def stage_extract(spec: dict) -> dict:
    import torch

    from xdeg_pipeline.core.features.extractor import FeatureExtractor

    cores = spec["extract_cores"]
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[:cores]))
    torch.set_num_threads(cores)
    paths = sorted(Path(spec["images"]).glob("img_*.jpg"))[: spec["n"]]
    t0 = time.perf_counter()
    fx = FeatureExtractor(spec["backbone"], device=spec["device"],
                          batch_size=spec["batch_size"], num_workers=0)
    fx.reader_threads = cores
    load_s = time.perf_counter() - t0
    fx.extract(paths[: min(len(paths), fx.batch_size)])  # warm-up, not timed
    reset = _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    feats, failures = fx.extract(paths)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "base": base, "peak_reset": reset, "model_load_s": load_s,
            "images_per_s": len(paths) / seconds, "failures": len(failures), "dim": fx.dim,
            "device": str(fx.device), "batch_size": fx.batch_size, "cores": cores,
            "finite_rows": int(np.isfinite(feats).all(1).sum())}


def stage_pca(spec: dict) -> dict:
    from xdeg_pipeline.core.graph.pca import fit_pca

    n, dim = spec["n"], spec["feature_dim"]
    max_samples = params.PCA_MAX_SAMPLES
    reset = _reset_peak()
    base = _rss()
    sample = synthetic_features(min(n, max_samples), dim, spec["seed"])
    t0 = time.perf_counter()
    model = fit_pca(sample, spec["pca_components"], max_samples=max_samples)
    fit_s = time.perf_counter() - t0
    del sample
    shard = -(-n // SHARDS)
    transform_s = 0.0
    for s, lo in enumerate(range(0, n, shard)):
        X = synthetic_features(min(shard, n - lo), dim, spec["seed"] + 1 + s)
        t0 = time.perf_counter()
        Z = model.transform(X)
        transform_s += time.perf_counter() - t0
        del X, Z
    return {"seconds": fit_s + transform_s, "base": base, "peak_reset": reset, "fit_s": fit_s,
            "transform_s": transform_s, "fitted_on": min(n, max_samples),
            "dim_in": dim, "dim_out": model.dim_out, "shard_rows": shard}


def stage_knn(spec: dict) -> dict:
    from xdeg_pipeline.core.graph import knn

    n, dim, k = spec["n"], spec["dim"], spec["k"]
    X = synthetic_vectors(n, dim, spec["seed"])
    marks: dict = {}
    build, query = knn.build_index, knn.query_index

    def timed_build(U, *a, **kw):
        before = _rss()
        t0 = time.perf_counter()
        index = build(U, *a, **kw)
        marks["index_build_s"] = time.perf_counter() - t0
        marks["index_bytes"] = _rss() - before
        marks["indexed"] = len(U)
        return index

    def timed_query(*a, **kw):
        t0 = time.perf_counter()
        ids = query(*a, **kw)
        marks["query_s"] = time.perf_counter() - t0
        return ids

    knn.build_index, knn.query_index = timed_build, timed_query
    reset = _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    edges = knn.knn_edges(X, k=k, space=params.KNN_SPACE, threads=spec["threads"])
    seconds = time.perf_counter() - t0
    np.savez(Path(spec["work"]) / f"edges_{n}.npz",
             **{c: edges[c].to_numpy() for c in edges.columns})
    out = {"seconds": seconds, "base": base, "peak_reset": reset, "edges": len(edges),
           "vector_bytes": int(X.nbytes), **marks}
    if marks.get("indexed"):
        out["index_bytes_per_vector"] = marks["index_bytes"] / marks["indexed"]
    return out


def _edges(spec: dict, X: np.ndarray):
    import pandas as pd

    path = Path(spec["work"]) / f"edges_{spec['n']}.npz"
    if path.exists():
        with np.load(path) as z:
            return pd.DataFrame({c: z[c] for c in z.files}), False
    from xdeg_pipeline.core.graph.knn import knn_edges

    return knn_edges(X, k=spec["k"], threads=spec["threads"]), True


def stage_graph(spec: dict) -> dict:
    from xdeg_pipeline.core.graph.build import build_graph, save_graph

    n = spec["n"]
    X = synthetic_vectors(n, spec["dim"], spec["seed"])
    edges, computed = _edges(spec, X)
    attrs = vertex_attrs(n, spec["seed"])
    reset = _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    g = build_graph(edges, X, vertex_attrs=attrs)
    seconds = time.perf_counter() - t0
    del edges, attrs
    retained = _rss() - base  # the graph object (its attributes included), roughly
    save_graph(g, Path(spec["work"]) / f"graph_{n}.pkl")
    return {"seconds": seconds, "base": base, "peak_reset": reset, "graph_edges": g.ecount(),
            "graph_bytes_per_vertex": retained / n, "edges_computed_here": computed}


def stage_paths(spec: dict) -> dict:
    from xdeg_pipeline.core.graph.build import load_graph
    from xdeg_pipeline.core.paths import PathError, PathFinder

    work = Path(spec["work"])
    before = _rss()
    g = load_graph(work / f"graph_{spec['n']}.pkl", allowed_root=work)
    graph_bytes = _rss() - before  # the graph as requested_paths holds it
    reset = _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    finder = PathFinder(g)
    init_s = time.perf_counter() - t0
    retained = _rss() - base
    rng = np.random.default_rng(spec["seed"])
    times, hops = [], []
    for _ in range(spec["queries"]):
        s, t = (int(v) for v in rng.choice(g.vcount(), 2, replace=False))
        t0 = time.perf_counter()
        try:
            hops.append(finder.find(s, t)[0].hops)
        except PathError:
            pass
        times.append(time.perf_counter() - t0)
    return {"seconds": init_s, "base": base, "peak_reset": reset,
            "query_ms_p50": 1000 * float(np.median(times)) if times else None,
            "query_ms_p90": 1000 * float(np.percentile(times, 90)) if times else None,
            "hops_p50": float(np.median(hops)) if hops else None,
            "graph_loaded_bytes_per_vertex": graph_bytes / g.vcount(),
            "finder_bytes_per_vertex": retained / g.vcount()}


def child(spec: dict) -> None:
    result = {"extract": stage_extract, "pca": stage_pca, "knn": stage_knn,
              "graph": stage_graph, "paths": stage_paths}[spec["stage"]](spec)
    result["peak"] = _status_bytes("VmHWM")
    print("XDEG-RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- parent
def run_child(spec: dict, env: dict, timeout: float | None) -> dict:
    """Run one stage in a fresh interpreter; its result plus the child's whole-life peak RSS
    (``wait4`` rusage of that child alone, not RUSAGE_CHILDREN's running maximum)."""
    cmd = [sys.executable, "-m", "benchmarks.scale_model", "--child", json.dumps(spec)]
    killed = threading.Event()
    with tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True, env=env,
                                cwd=REPO_ROOT)

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer is not None:
            timer.start()
        t0 = time.perf_counter()
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if timer is not None:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read()
    if killed.is_set():
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in out.splitlines() if ln.startswith("XDEG-RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (err or out).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    result = json.loads(lines[-1][len("XDEG-RESULT "):])
    result["child_wall_s"] = wall
    result["child_peak"] = usage.ru_maxrss * 1024  # KB on Linux
    return result


def loglog_fit(ns: list[int], ts: list[float]) -> tuple[float | None, float | None]:
    """(a, b) of t ~ a * n^b by least squares in log-log; (None, None) below two points."""
    pts = [(n, t) for n, t in zip(ns, ts) if t and t > 0]
    if len({n for n, _ in pts}) < 2:
        return None, None
    b, log_a = np.polyfit(np.log([n for n, _ in pts]), np.log([t for _, t in pts]), 1)
    return float(math.exp(log_a)), float(b)


def linear_fit(ns: list[int], ys: list[float]) -> tuple[float | None, float | None]:
    """(base, per_item) of y ~ base + per_item * n; (None, None) below two points."""
    pts = [(n, y) for n, y in zip(ns, ys) if y is not None]
    if len({n for n, _ in pts}) < 2:
        return None, None
    slope, base = np.polyfit([n for n, _ in pts], [y for _, y in pts], 1)
    return float(base), float(slope)


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.2f} s"


def _fmt_b(b: float | None) -> str:
    if b is None:
        return "-"
    for unit, size in (("GB", 1024**3), ("MB", MB), ("KB", 1024)):
        if abs(b) >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def _extra(stage: str, r: dict) -> str:
    if stage == "extract":
        return f"{r['images_per_s']:.1f} img/s on {r['cores']} core(s), {r['device']}"
    if stage == "pca":
        return f"fit {r['fit_s']:.2f} s on {r['fitted_on']}, transform {r['transform_s']:.2f} s"
    if stage == "knn":
        per = r.get("index_bytes_per_vector")
        return (f"build {r.get('index_build_s', 0):.1f} s, query {r.get('query_s', 0):.1f} s, "
                f"index {per:.0f} B/vector" if per is not None else "exact (tiny n)")
    if stage == "graph":
        return f"{r['graph_edges']} edges"
    if stage == "paths":
        p50 = r.get("query_ms_p50")
        return (f"graph {r['graph_loaded_bytes_per_vertex']:.0f} B/vertex loaded"
                + (f", query p50 {p50:.1f} ms" if p50 is not None else ""))
    return ""


def _largest(ok: list[dict], key: str | None = None) -> dict | None:
    rows = [r for r in ok if key is None or r.get(key) is not None]
    return max(rows, key=lambda r: r["n"]) if rows else None


def project(rows: list[dict], args, dims: dict) -> tuple[dict, dict]:
    """Fits per stage and the ``args.target`` projection.

    ``b`` is the log-log slope over every size; the projection extrapolates from the two
    largest sizes (their local slope ``b_top`` and their memory growth), the regime closest to
    the target. With one size, time and the stage's memory growth are taken as linear in n.
    """
    N = args.target
    fits, proj = {}, {"images": N}
    for stage in STAGES:
        ok = sorted((r for r in rows if r["stage"] == stage and "error" not in r),
                    key=lambda r: r["n"])
        if not ok:
            continue
        top = ok[-2:]
        ns, ts = [r["n"] for r in ok], [r["seconds"] for r in ok]
        a, b = loglog_fit(ns, ts)
        a_top, b_top = loglog_fit([r["n"] for r in top], [r["seconds"] for r in top])
        base, per_item = linear_fit([r["n"] for r in top], [r.get("peak") for r in top])
        big = ok[-1]
        if a_top is None:  # one size: linear time through the origin
            a_top, b_top = big["seconds"] / big["n"], 1.0
        if per_item is None and big.get("peak") and big.get("base"):  # one size: its growth
            base, per_item = float(big["base"]), (big["peak"] - big["base"]) / big["n"]
        fits[stage] = {"b": b, "a": a, "b_top": b_top, "a_top": a_top,
                       "mem_base_bytes": base, "mem_bytes_per_item": per_item,
                       "largest_n": big["n"], "largest_peak_bytes": big.get("peak")}
        if stage == "extract":  # memory does not grow with the images of a worker
            rate = big["images_per_s"]
            fits[stage].update(mem_base_bytes=max(r.get("peak") or 0 for r in ok),
                               mem_bytes_per_item=None, images_per_s=rate)
            proj["extract"] = {
                "measured_images_per_s": round(rate, 2), "cores": big["cores"],
                "device": big["device"],
                "hours_1_cpu_core": round(N / rate / 3600 * big["cores"], 1),
                "gpu_images_per_s_each_given": args.gpu_rate,
                "hours_on_gpus": {str(w): round(N / (args.gpu_rate * w) / 3600, 2)
                                  for w in args.gpu_worker_counts},
                "worker_peak_bytes": fits[stage]["mem_base_bytes"],
                "features_bytes": N * dims["feature_dim"] * 4,
            }
            continue
        mem_n = base + per_item * N if per_item is not None else None
        entry = {"seconds": round(a_top * N**b_top, 1), "time_exponent_b": round(b, 3)
                 if b is not None else None, "time_exponent_b_top": round(b_top, 3),
                 "peak_bytes": round(mem_n) if mem_n is not None else None,
                 "peak_bytes_per_item": round(per_item, 1) if per_item is not None else None}
        if stage == "pca":
            entry["output_bytes"] = N * dims["pca_components"] * 4
            entry["shard_features_bytes"] = N // SHARDS * dims["feature_dim"] * 4
        if stage == "knn":
            r = _largest(ok, "index_bytes_per_vector")
            if r is not None:
                entry["index_bytes_per_vector"] = round(r["index_bytes_per_vector"], 1)
                entry["index_bytes"] = round(r["index_bytes_per_vector"] * N)
            entry["vectors_bytes"] = N * dims["dim"] * 4
            entry["hnsw_formula_bytes_per_vector"] = dims["dim"] * 4 + 2 * params.HNSW_M * 4
        if stage == "graph":
            entry["graph_build_retained_bytes_per_vertex"] = round(
                big["graph_bytes_per_vertex"], 1)
        if stage == "paths":
            q = [(r["n"], r["query_ms_p50"]) for r in top if r.get("query_ms_p50")]
            qa, qb = loglog_fit([n for n, _ in q], [m for _, m in q])
            if qa is not None:
                entry["query_ms_p50"] = round(qa * N**qb, 1)
                entry["query_exponent_b_top"] = round(qb, 3)
            entry["graph_loaded_bytes_per_vertex"] = round(big["graph_loaded_bytes_per_vertex"], 1)
            entry["graph_loaded_bytes"] = round(big["graph_loaded_bytes_per_vertex"] * N)
            entry["finder_bytes"] = round(big["finder_bytes_per_vertex"] * N)
        proj[stage] = entry
    cpu = [proj[s]["seconds"] for s in ("pca", "knn", "graph") if s in proj]
    if cpu:
        proj["cpu_stages_seconds"] = round(sum(cpu), 1)
    return fits, proj


def _sizes(text: str) -> list[int]:
    return sorted({int(float(s)) for s in text.split(",") if s.strip()})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(json.loads(argv[1]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="vectors for pca, knn, graph, paths")
    ap.add_argument("--max-size", type=int, default=None, help="drop --sizes above this")
    ap.add_argument("--image-sizes", default="64,128,256", help="images for extract")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--target", type=int, default=10_000_000, help="images to project to")
    ap.add_argument("--gpu-rate", type=float, default=5000.0,
                    help="images/s of one GPU worker, given (not measured by this run; "
                         "5000: the H100 target of benchmarks/feature_throughput.py)")
    ap.add_argument("--gpu-workers", default="1,4,16", help="GPU worker counts to project")
    ap.add_argument("--extract-cores", type=int, default=1, help="cores of the extract child")
    ap.add_argument("--device", default="cpu", help="extract device (cpu, cuda)")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--feature-dim", type=int, default=1280, help="features into the PCA")
    ap.add_argument("--pca-components", type=int, default=params.PCA_COMPONENTS or 128)
    ap.add_argument("--dim", type=int, default=None,
                    help="vector dims for knn/graph/paths (default: --pca-components)")
    ap.add_argument("--k", type=int, default=params.KNN_K)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of the vector stages (default: all cores)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per (stage, size)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        ap.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    sizes = [n for n in _sizes(args.sizes) if args.max_size is None or n <= args.max_size]
    image_sizes = _sizes(args.image_sizes)
    args.gpu_worker_counts = _sizes(args.gpu_workers)
    dim = args.dim or args.pca_components
    dims = {"feature_dim": args.feature_dim, "pca_components": args.pca_components, "dim": dim}
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    t_all = time.perf_counter()
    rows: list[dict] = []
    print(f"{'stage':8s} {'n':>9s} {'time':>10s} {'us/item':>9s} {'peak':>9s} "
          f"{'stage +':>9s}  notes", flush=True)

    def record(stage: str, n: int, result: dict) -> dict:
        row = {"stage": stage, "n": n, **result}
        rows.append(row)
        if "error" in row:
            print(f"{stage:8s} {n:>9d}  FAILED: {row['error']}", flush=True)
        else:
            grow = row["peak"] - row["base"] if row.get("peak") and row.get("base") else None
            print(f"{stage:8s} {n:>9d} {_fmt_s(row['seconds']):>10s} "
                  f"{1e6 * row['seconds'] / n:>9.1f} {_fmt_b(row.get('peak')):>9s} "
                  f"{_fmt_b(grow):>9s}  {_extra(stage, row)}", flush=True)
        return row

    with tempfile.TemporaryDirectory(prefix="xdeg-scale-") as tmp:
        work = Path(tmp)
        common = {"seed": args.seed, "work": str(work), "dim": dim, "k": args.k,
                  "threads": args.threads, "feature_dim": args.feature_dim,
                  "pca_components": args.pca_components, "queries": args.queries}
        if "extract" in stages and image_sizes:
            t0 = time.perf_counter()
            write_images(work / "images", max(image_sizes), args.seed)
            print(f"(wrote {max(image_sizes)} JPEGs of 256-512 px in "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)
            for n in image_sizes:
                spec = {**common, "stage": "extract", "n": n, "images": str(work / "images"),
                        "extract_cores": args.extract_cores, "device": args.device,
                        "backbone": args.backbone, "batch_size": args.batch_size}
                record("extract", n, run_child(spec, env, args.timeout))
        for n in sizes:
            failed = False
            for stage in VECTOR_STAGES:
                if stage not in stages:
                    continue
                if failed and stage in ("graph", "paths"):
                    record(stage, n, {"error": "skipped: an earlier stage failed at this size"})
                    continue
                row = record(stage, n, run_child({**common, "stage": stage, "n": n}, env,
                                                 args.timeout))
                failed = failed or ("error" in row and stage in ("knn", "graph"))

    fits, proj = project(rows, args, dims)
    print()
    print("fits: time ~ a * n^b (b over all sizes, b_top over the two largest); peak memory ~ "
          "base + bytes/item * n (two largest sizes)")
    for stage, f in fits.items():
        per = f["mem_bytes_per_item"]
        b = "-" if f["b"] is None else f"{f['b']:.3f}"
        mem = (f"constant ~{_fmt_b(f['mem_base_bytes'])}" if stage == "extract"
               else f"bytes/item = {'-' if per is None else f'{per:,.0f}'}")
        print(f"  {stage:8s} b = {b:>6s}  b_top = {f['b_top']:.3f}  {mem}   "
              f"(largest n {f['largest_n']})")
    N = args.target
    print(f"\nprojection to {N:,} images (extrapolated from the two largest sizes):")
    if "extract" in proj:
        e = proj["extract"]
        gpus = ", ".join(f"{w} GPU(s) {h} h" for w, h in e["hours_on_gpus"].items())
        print(f"  extract: {e['hours_1_cpu_core']:,} h on 1 CPU core "
              f"({e['measured_images_per_s']} img/s measured); at {args.gpu_rate:,.0f} img/s "
              f"per GPU (given by --gpu-rate, not measured): {gpus}; "
              f"worker peak {_fmt_b(e['worker_peak_bytes'])}; "
              f"features on disk {_fmt_b(e['features_bytes'])}")
    for stage in VECTOR_STAGES:
        if stage not in proj:
            continue
        p = proj[stage]
        line = (f"  {stage}: {_fmt_s(p['seconds'])} (b_top = {p['time_exponent_b_top']}), "
                f"peak {_fmt_b(p['peak_bytes'])}")
        if "index_bytes" in p:
            line += (f"; HNSW index {p['index_bytes_per_vector']:.0f} B/vector -> "
                     f"{_fmt_b(p['index_bytes'])} (vectors alone {_fmt_b(p['vectors_bytes'])})")
        if "graph_loaded_bytes" in p:
            line += (f"; graph in memory {_fmt_b(p['graph_loaded_bytes'])} "
                     f"({p['graph_loaded_bytes_per_vertex']:.0f} B/vertex)")
        if "query_ms_p50" in p:
            line += f"; query p50 ~{p['query_ms_p50']} ms"
        print(line)
    report = {
        "target": N, "sizes": sizes, "image_sizes": image_sizes, "stages": stages,
        "dims": dims, "k": args.k, "gpu_rate_given": args.gpu_rate, "threads": args.threads,
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "params": {"PCA_MAX_SAMPLES": params.PCA_MAX_SAMPLES, "HNSW_M": params.HNSW_M,
                   "HNSW_EF_CONSTRUCTION": params.HNSW_EF_CONSTRUCTION, "shards": SHARDS},
        "rows": rows, "fits": fits, "projection": proj,
        "wall_note": "projection extrapolates the two largest sizes; re-measure near the target",
        "total_s": round(time.perf_counter() - t_all, 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
