"""Path quality on a real collection: every path mode against exact bounds and the original recipe.

    python -m benchmarks.path_quality IMAGES_DIR_OR_FEATURES [--pairs 200] [--seed 0]
        [--backbone efficientnet_lite0] [--pca 64] [--k 15] [--space l2] [--cache FILE.npy]
        [--hub-pairs 1000] [--slack S] [--power P] [--hub-penalty L]

IMAGES_DIR_OR_FEATURES is a folder of images (features computed with
``xdeg_pipeline.core.features.FeatureExtractor`` and cached in ``--cache``), or a features
``.npy`` (n, dim), or a ``.parquet`` with a ``feature`` list column. ``--pca``, ``--k``,
``--space``, ``--slack``, ``--power`` and ``--hub-penalty`` take comma-separated lists to sweep.

Every distance is judged in the FULL feature space: Euclidean distance between L2-normalised
features (chord distance; cosine distance = chord^2 / 2, so a ratio in cosine terms is the
square of the ratio printed). Exact bounds over the COMPLETE graph of all images:

* bottleneck: the least possible largest step between s and t = the largest edge on their
  path in the minimum spanning tree of the complete graph (dense Prim, O(N^2), once).
* 8-step bound: the least largest step over walks of at most 8 edges = min-max DP, 8 products
  of a (1 x N) row by the (N x N) distance matrix per source. Rows whose value already
  reaches a known feasible value (the direct distance, or a found 8-step chain) cannot
  improve the answer and are skipped, which keeps the DP exact. Walks include all simple
  chains of <= 8 steps, so this lower-bounds chains of exactly 8 steps.

Hub share: share of all chain interiors taken by the 1% most-used images, over ``--hub-pairs``
random pairs (``uniform`` = the same statistic if interiors were drawn uniformly at random).
The original recipe (PCA 10 with fbpca on raw features, nmslib cosine k=20, directed kNN graph,
igraph shortest sum of distances) is run as the reference. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph import build_graph
from xdeg_pipeline.core.knn import import_nmslib, knn_edges, knn_recall
from xdeg_pipeline.core.paths import PathError, PathFinder
from xdeg_pipeline.core.pca import fit_pca, l2_normalise

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
STEPS_X = 7  # intermediate images for the steps mode (8 steps)


# ----------------------------------------------------------------------------- features
def load_features(source: Path, backbone: str, cache: Path | None) -> np.ndarray:
    """Features of a folder (cached) or read from .npy / .parquet."""
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        key = hashlib.sha1(f"{source.resolve()}|{backbone}|{len(files)}".encode()).hexdigest()
        cache = cache or Path(tempfile.gettempdir()) / f"xdeg-features-{key[:12]}.npy"
        if cache.exists():
            print(f"features: cached {cache}")
            return np.load(cache)
        from xdeg_pipeline.core.features import FeatureExtractor

        t0 = time.perf_counter()
        feats, failures = FeatureExtractor(backbone=backbone).extract(files)
        feats = feats[np.isfinite(feats).all(axis=1)]
        print(f"features: {len(feats)} of {len(files)} images in "
              f"{time.perf_counter() - t0:.1f} s ({len(failures)} failed)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, feats)
        return feats
    if source.suffix == ".npy":
        return np.load(source)
    if source.suffix == ".parquet":
        import pandas as pd

        col = pd.read_parquet(source)["feature"]
        return np.stack([np.asarray(v, dtype=np.float32) for v in col])
    raise SystemExit(f"not a folder, .npy or .parquet: {source}")


# ----------------------------------------------------------------------------- exact bounds
def chord_matrix(F: np.ndarray) -> np.ndarray:
    """Dense Euclidean distances between L2-normalised rows (float32, N x N)."""
    G = F @ F.T
    np.clip(2.0 - 2.0 * G, 0.0, 4.0, out=G)
    np.sqrt(G, out=G)
    np.fill_diagonal(G, 0.0)
    return G


def mst_parent(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense Prim from vertex 0: parent and edge weight to parent of each vertex."""
    n = len(D)
    key = D[0].astype(np.float64).copy()
    parent = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, bool)
    done[0] = True
    key[0] = np.inf
    for _ in range(n - 1):
        u = int(np.argmin(np.where(done, np.inf, key)))
        done[u] = True
        better = (D[u] < key) & ~done
        key[better] = D[u][better]
        parent[better] = u
    up_w = D[np.arange(n), parent].astype(np.float64)
    up_w[0] = 0.0
    return parent, up_w


def tree_bottleneck(parent: np.ndarray, up_w: np.ndarray, depth: np.ndarray, s: int, t: int):
    best = 0.0
    while s != t:
        if depth[s] < depth[t]:
            s, t = t, s
        best = max(best, up_w[s])
        s = parent[s]
    return best


def tree_depth(parent: np.ndarray) -> np.ndarray:
    depth = np.full(len(parent), -1)
    depth[0] = 0
    for v in range(len(parent)):
        chain = []
        while depth[v] < 0:
            chain.append(v)
            v = parent[v]
        for c in reversed(chain):
            depth[c] = depth[parent[c]] + 1
    return depth


def hop_bound(D: np.ndarray, s: int, t: int, hops: int, upper: float) -> float:
    """Least largest step over walks of at most ``hops`` edges from s to t (exact)."""
    B = D[s].astype(np.float32).copy()
    for _ in range(hops - 1):
        rows = np.flatnonzero(B < min(upper, B[t]))
        if len(rows) == 0:
            break
        best = np.full(len(B), np.inf, dtype=np.float32)
        for lo in range(0, len(rows), 256):
            r = rows[lo : lo + 256]
            best = np.minimum(best, np.maximum(D[r], B[r, None]).min(axis=0))
        B = np.minimum(B, best)
    return float(min(B[t], upper))


# ----------------------------------------------------------------------------- metrics
def hub_share(interiors: list[list[int]], n: int) -> float:
    counts = np.bincount(np.concatenate([np.asarray(c, int) for c in interiors] + [[]]).astype(int),
                         minlength=n)
    total = counts.sum()
    if total == 0:
        return 0.0
    top = max(1, math.ceil(0.01 * n))
    return float(np.sort(counts)[::-1][:top].sum() / total)


def uniform_hub_share(total: int, n: int, seed: int) -> float:
    if total == 0:
        return 0.0
    counts = np.random.default_rng(seed).multinomial(total, np.full(n, 1.0 / n))
    top = max(1, math.ceil(0.01 * n))
    return float(np.sort(counts)[::-1][:top].sum() / total)


def pct(values, q) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return round(float(np.percentile(v, q)), 4) if v else None


def evaluate(run_query, pairs, D, bounds, n, seed) -> dict:
    """Run ``run_query(s, t) -> vertices | None`` on pairs; judge in the full space."""
    found, times, interiors, largest, ratio, hops = 0, [], [], [], [], []
    for i, (s, t) in enumerate(pairs):
        t0 = time.perf_counter()
        chain = run_query(int(s), int(t))
        times.append(time.perf_counter() - t0)
        if chain is None:
            continue
        found += 1
        interiors.append(chain[1:-1])
        if i < len(bounds):
            v = np.asarray(chain)
            big = float(D[v[:-1], v[1:]].max())
            largest.append(big)
            ratio.append(big / bounds[i] if bounds[i] > 0 else 1.0)
            hops.append(len(chain) - 1)
    total_interior = sum(len(c) for c in interiors)
    return {
        "reachable": round(found / len(pairs), 4),
        "hops_p50": pct(hops, 50),
        "largest_p50": pct(largest, 50),
        "largest_p90": pct(largest, 90),
        "ratio_p50": pct(ratio, 50),
        "ratio_p90": pct(ratio, 90),
        "ratio_cosine_p50": pct([r * r for r in ratio], 50),
        "hub_share": round(hub_share(interiors, n), 4),
        "hub_share_uniform": round(uniform_hub_share(total_interior, n, seed), 4),
        "query_ms_p50": round(1000 * float(np.median(times)), 2),
        "query_ms_p90": round(1000 * float(np.percentile(times, 90)), 2),
        "_largest": largest,
    }


# ----------------------------------------------------------------------------- recipes
def original_recipe(F: np.ndarray, seed: int):
    """PCA 10 (fbpca, raw features), nmslib cosine k=20, directed graph, shortest sum."""
    import fbpca
    import igraph as ig

    nmslib = import_nmslib()
    t0 = time.perf_counter()
    np.random.seed(seed)
    U, s, _ = fbpca.pca(F.astype(np.float64), k=10, raw=False)
    X = (U * s).astype(np.float32)
    index = nmslib.init(method="hnsw", space="cosinesimil")
    index.addDataPointBatch(X)
    index.createIndex({"M": 16, "efConstruction": 100, "post": 0}, print_progress=False)
    res = index.knnQueryBatch(X, k=21, num_threads=2)
    src, dst, w = [], [], []
    for i, (ids, dist) in enumerate(res):
        for j, d in zip(ids, dist, strict=True):
            if j != i:
                src.append(i)
                dst.append(int(j))
                w.append(float(d))
    g = ig.Graph(n=len(F), edges=list(zip(src, dst, strict=True)), directed=True)
    g.es["weight"] = w
    build = time.perf_counter() - t0

    def query(s: int, t: int):
        p = g.get_shortest_path(s, t, weights="weight", mode="out")
        return p if p and p[-1] == t else None

    return query, build


def our_pipeline(F, pca, k, space, seed, slack, power, hub_penalty):
    t0 = time.perf_counter()
    model = fit_pca(F, pca, seed=seed)
    X = model.transform(F)
    t1 = time.perf_counter()
    edges = knn_edges(X, k=k, space=space)
    t2 = time.perf_counter()
    g = build_graph(edges, X, metric=space, hub_load=False)
    t3 = time.perf_counter()
    finder = PathFinder(g, slack=slack, power=power, hub_penalty=hub_penalty)
    t4 = time.perf_counter()
    recall = knn_recall(X, edges, k, sample=300, seed=seed, space=space)
    timing = {"pca_s": t1 - t0, "knn_s": t2 - t1, "graph_s": t3 - t2, "finder_s": t4 - t3}
    return finder, g, recall, {k_: round(v, 3) for k_, v in timing.items()}


def mode_query(finder: PathFinder, mode: str):
    def query(s: int, t: int):
        try:
            if mode == "steps":
                return finder.find(s, t, mode="steps", steps=STEPS_X)[0].vertices
            return finder.find(s, t, mode=mode)[0].vertices
        except PathError:
            return None

    return query


def _list(text: str, cast):
    return [cast(x) for x in str(text).split(",")]


def _pca_value(x: str) -> int | None:
    return None if x.lower() in ("none", "full", "0") else int(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--hub-pairs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--pca", default=str(params.PCA_COMPONENTS))
    ap.add_argument("--k", default=str(params.KNN_K))
    ap.add_argument("--space", default=params.KNN_SPACE)
    ap.add_argument("--slack", default=str(params.SMOOTH_SLACK))
    ap.add_argument("--power", default=str(params.SMOOTH_POWER))
    ap.add_argument("--hub-penalty", default=str(params.HUB_PENALTY))
    ap.add_argument("--modes", default="shortest,smooth,steps")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()

    F = load_features(args.source, args.backbone, args.cache).astype(np.float32)
    F = F[np.isfinite(F).all(axis=1)]
    F = np.unique(F, axis=0)  # one vertex per distinct image, like the pipeline's hashes
    rng = np.random.default_rng(args.seed)
    rng.shuffle(F)
    n = len(F)
    full = l2_normalise(F)
    t0 = time.perf_counter()
    D = chord_matrix(full)
    parent, up_w = mst_parent(D)
    depth = tree_depth(parent)
    n_pairs = max(args.pairs, args.hub_pairs)
    pairs = []
    while len(pairs) < n_pairs:
        s, t = rng.integers(0, n, 2)
        if s != t:
            pairs.append((int(s), int(t)))
    bott = [tree_bottleneck(parent, up_w, depth, s, t) for s, t in pairs[: args.pairs]]
    t_bound = time.perf_counter() - t0
    print(f"collection: {n} distinct images, dim {F.shape[1]}; {args.pairs} pairs for bounds, "
          f"{n_pairs} for hub share; bottleneck bounds in {t_bound:.1f} s")

    report: dict = {"collection": str(args.source), "n": n, "dim": int(F.shape[1]),
                    "pairs": args.pairs, "hub_pairs": n_pairs, "seed": args.seed,
                    "distance": "chord (L2 of L2-normalised full features)", "configs": []}
    step_bounds: list[float] | None = None
    modes = args.modes.split(",")
    for pca in _list(args.pca, _pca_value):
        for k in _list(args.k, int):
            for space in _list(args.space, str):
                for slack in _list(args.slack, float):
                    for power in _list(args.power, float):
                        for hp in _list(args.hub_penalty, float):
                            finder, g, recall, timing = our_pipeline(
                                F, pca, k, space, args.seed, slack, power, hp
                            )
                            cfg = {"pca": pca, "k": k, "space": space, "slack": slack,
                                   "power": power, "hub_penalty": hp, "recall": round(recall, 4),
                                   "edges": g.ecount(),
                                   "bridges": g["params"]["bridges"], **timing, "modes": {}}
                            for mode in modes:
                                bounds = bott
                                if mode == "steps":
                                    if step_bounds is None:
                                        t1 = time.perf_counter()
                                        step_bounds = []
                                        for s, t in pairs[: args.pairs]:
                                            step_bounds.append(hop_bound(
                                                D, s, t, STEPS_X + 1, float(D[s, t])))
                                        print(f"8-step bounds in {time.perf_counter()-t1:.1f} s")
                                    bounds = step_bounds
                                r = evaluate(mode_query(finder, mode), pairs, D, bounds, n,
                                             args.seed)
                                r.pop("_largest")
                                cfg["modes"][mode] = r
                                print(f"pca={pca} k={k} space={space} slack={slack} "
                                      f"power={power} hub_penalty={hp} {mode:8s} "
                                      + " ".join(f"{a}={b}" for a, b in r.items()))
                            print(f"  recall={recall:.4f} edges={g.ecount()} {timing}")
                            report["configs"].append(cfg)
    if not args.no_reference:
        query, build = original_recipe(F, args.seed)
        ref = evaluate(query, pairs, D, bott, n, args.seed)
        ref.pop("_largest")
        ref["build_s"] = round(build, 3)
        report["reference"] = ref
        print("reference (PCA10 fbpca, nmslib cosine k=20, directed, shortest sum): "
              + " ".join(f"{a}={b}" for a, b in ref.items()))
        for cfg in report["configs"]:
            sm = cfg["modes"].get("smooth")
            if sm and ref["ratio_p50"]:
                cfg["smooth_vs_reference"] = {
                    "ratio_p50": round(sm["ratio_p50"] / ref["ratio_p50"], 3),
                    "hub_share": round(sm["hub_share"] / max(ref["hub_share"], 1e-9), 3),
                    "reachable": round(sm["reachable"] / max(ref["reachable"], 1e-9), 3),
                }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
