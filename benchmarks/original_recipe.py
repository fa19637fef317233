"""The original recipe, as the reference the path benchmarks compare with.

PCA to 10 dimensions (fbpca on the raw features), nmslib HNSW cosine k=20, a directed kNN
graph and igraph's least sum of distances (``get_shortest_path``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from xdeg_pipeline.core.graph.knn import import_nmslib

Query = Callable[[int, int], "list[int] | None"]


def original_recipe(F: np.ndarray, seed: int) -> tuple[Query, float]:
    """The recipe's query function on features F (None where t is unreachable) and its build
    time in seconds."""
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

    def query(s: int, t: int) -> list[int] | None:
        p = g.get_shortest_path(s, t, weights="weight", mode="out")
        return p if p and p[-1] == t else None

    return query, build
