"""t-SNE (openTSNE, what xdeg uses) against UMAP (umap-learn) for the collection map.

For a built data folder: the time of a full layout, the time to place 1 % new images into a
layout of the other 99 % (neither method moves the existing points), and how well each layout
keeps the collection's structure: kNN preservation (share of each image's 10 nearest
neighbours in the PCA space that are also among its 10 nearest on the map; for all images and
for the placed 1 % alone) and same-topic neighbours (share of the 10 nearest map neighbours in
the same top-level folder; the PCA space's own share is the reference). UMAP is skipped when
umap-learn is not installed (it is not a dependency of xdeg).

    python -m benchmarks.map_layout --home /path/to/data [--home other] [--k 10]
        [--set n_iter=500 --set theta=0.5]   # t-SNE settings other than xdeg's (MapParams)

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.pictures.collection_map import MapParams, fit_layout
from xdeg_pipeline.core.pictures.map_placement import place_points
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.tables import read_feature_table


def knn(X: np.ndarray, k: int) -> np.ndarray:
    """Exact k nearest neighbours of every row (itself excluded)."""
    X = np.asarray(X, dtype=np.float64)
    sq = (X**2).sum(1)
    out = np.empty((len(X), k), dtype=np.int64)
    for lo in range(0, len(X), 1024):
        d = sq[lo : lo + 1024, None] - 2 * X[lo : lo + 1024] @ X.T + sq[None, :]
        d[np.arange(len(d)), np.arange(lo, lo + len(d))] = np.inf
        part = np.argpartition(d, k, axis=1)[:, :k]
        out[lo : lo + len(d)] = part
    return out


def preservation(high: np.ndarray, low: np.ndarray, rows: np.ndarray | None = None) -> float:
    rows = np.arange(len(high)) if rows is None else rows
    return float(np.mean([len(set(high[i]) & set(low[i])) / high.shape[1] for i in rows]))


def same_topic(nbrs: np.ndarray, topic: np.ndarray) -> float:
    return float((topic[nbrs] == topic[:, None]).mean())


def topics(layout: Layout, hashes: list[str]) -> np.ndarray:
    manifest = pd.read_parquet(layout.raw_images, columns=["name", "content_hash"])
    first = manifest.sort_values("name").drop_duplicates("content_hash")
    top = dict(zip(first["content_hash"], first["name"].str.split("/").str[0]))
    return np.array([top.get(h, "") for h in hashes])


def tsne_method(params: MapParams):
    def fit(X):
        return fit_layout(X, params)

    def place(X_ref, Y_ref, X_new):
        return place_points(X_ref, Y_ref, X_new, params)

    return fit, place


def umap_method(seed: int):
    import umap

    state = {}
    t0 = time.perf_counter()  # numba compiles UMAP's kernels on first use: not timed below
    warm = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    umap.UMAP(random_state=seed, n_jobs=1).fit(warm).transform(warm[:10])
    print(f"umap first-use compilation: {time.perf_counter() - t0:.1f} s")

    def fit(X):
        model = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed, n_jobs=1)
        Y = model.fit_transform(X)
        state["model"] = model
        return Y

    def place(X_ref, Y_ref, X_new):
        return state["model"].transform(X_new)  # the model fitted on X_ref by the last fit

    return fit, place


def measure(name: str, method, X: np.ndarray, topic: np.ndarray, k: int, seed: int) -> dict:
    fit, place = method
    high = knn(X, k)
    t0 = time.perf_counter()
    Y = fit(X)
    fit_s = time.perf_counter() - t0
    low = knn(Y, k)
    rng = np.random.default_rng(seed)
    new = np.sort(rng.choice(len(X), size=max(1, len(X) // 100), replace=False))
    ref = np.setdiff1d(np.arange(len(X)), new)
    t0 = time.perf_counter()
    Y_ref = fit(X[ref])
    fit99_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Y_new = place(X[ref], Y_ref, X[new])
    place_s = time.perf_counter() - t0
    t0 = time.perf_counter()  # again: UMAP prepares (and numba compiles) its search on first use
    place(X[ref], Y_ref, X[new])
    again_s = time.perf_counter() - t0
    Y_inc = np.empty_like(Y)
    Y_inc[ref], Y_inc[new] = Y_ref, Y_new
    low_inc = knn(Y_inc, k)
    return {
        "method": name,
        "n": len(X),
        "fit_s": round(fit_s, 2),
        "fit_99pct_s": round(fit99_s, 2),
        "place_1pct_s": round(place_s, 3),
        "place_1pct_again_s": round(again_s, 3),
        "placed": len(new),
        "knn_preservation": round(preservation(high, low), 3),
        "knn_preservation_placed": round(preservation(high, low_inc, new), 3),
        "same_topic": round(same_topic(low, topic), 3),
    }


def map_params(seed: int, settings: list[str]) -> MapParams:
    """xdeg's MapParams with ``NAME=VALUE`` overrides (typed as the field's default)."""
    base = MapParams(seed=seed)
    changes = {}
    for item in settings:
        name, _, value = item.partition("=")
        if not hasattr(base, name):
            raise SystemExit(f"--set {item}: MapParams has no field {name!r}")
        changes[name] = type(getattr(base, name))(value)
    return dataclasses.replace(base, **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", action="append", required=True, help="built data folder")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-umap", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a MapParams field for the t-SNE runs (e.g. n_iter=500; repeatable)")
    args = parser.parse_args()
    results = []
    for home in args.home:
        layout = Layout(Path(home).expanduser().resolve())
        hashes, X = read_feature_table(layout.pca_features)
        topic = topics(layout, hashes)
        space = same_topic(knn(X, args.k), topic)
        print(f"{home}: {len(X)} images, same-topic share of PCA-space neighbours {space:.3f}")
        tsne_params = map_params(args.seed, args.set)
        methods = {"tsne": tsne_method(tsne_params)}
        if not args.no_umap:
            try:
                methods["umap"] = umap_method(args.seed)
            except ImportError:
                print("umap-learn is not installed: UMAP skipped")
        for name, method in methods.items():
            row = measure(name, method, X, topic, args.k, args.seed)
            row.update(home=str(home), same_topic_pca=round(space, 3))
            if name == "tsne":
                row["params"] = tsne_params.fit_params()
            print(json.dumps(row))
            results.append(row)
    print(json.dumps({"benchmark": "map_layout", "k": args.k, "results": results}))


if __name__ == "__main__":
    main()
