"""The kNN table in k-means partitions: recall, the table format of knn_edges, Dask tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.graph.knn import knn_edges, knn_recall
from xdeg_pipeline.core.graph.knn_partitioned import (
    dask_runner,
    nearest_partitions,
    partition_neighbours,
    partitioned_knn_edges,
)
from xdeg_pipeline.core.graph.knn_update import update_knn_edges


def clustered(n: int, seed: int = 0, d: int = 32) -> np.ndarray:
    """``n`` points around 40 centres in ``d`` dimensions, clusters of different spreads."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (40, d))
    label = rng.integers(0, 40, n)
    spread = rng.uniform(0.5, 1.5, 40)[label, None]
    return (centres[label] + spread * rng.normal(0, 1, (n, d))).astype(np.float32)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return clustered(3000)


@pytest.fixture(scope="module")
def local(X: np.ndarray) -> tuple[pd.DataFrame, object]:
    return partitioned_knn_edges(X, k=10, partitions=4)


def test_recall_against_exact_search(X: np.ndarray, local) -> None:
    edges, info = local
    assert info.partitions == 4 and info.engine == "local"
    assert info.largest_indexed < len(X) and 1 < info.searched_per_vector <= info.overlap
    assert knn_recall(X, edges, 10, sample=len(X)) >= 0.98


def test_the_table_is_in_the_format_of_knn_edges(X: np.ndarray, local) -> None:
    edges, _ = local
    single = knn_edges(X, k=10)
    assert list(edges.columns) == list(single.columns)
    assert edges.dtypes.to_dict() == single.dtypes.to_dict()
    assert len(edges) == len(single) == 10 * len(X)
    assert (edges["source"] != edges["target"]).all()
    counts = edges.groupby("source")["rank"].agg(["min", "max", "count"])
    assert (counts["min"] == 1).all() and (counts["max"] == 10).all()
    assert (counts["count"] == 10).all()
    assert edges.equals(edges.sort_values(["source", "rank"], kind="stable"))
    d = edges["distance"].to_numpy().reshape(len(X), 10)
    assert (np.diff(d, axis=1) >= 0).all()
    a, b = edges["source"].to_numpy(), edges["target"].to_numpy()
    assert np.allclose(d.reshape(-1), np.linalg.norm(X[a] - X[b], axis=1), rtol=1e-5)


def test_dask_tasks_give_the_local_table(X: np.ndarray, local) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        edges, info = partitioned_knn_edges(X, k=10, partitions=4, runner=dask_runner(client))
    assert info.engine == "dask"
    pd.testing.assert_frame_equal(edges, local[0])  # partitions are exact below exact_max


def test_copies_are_each_others_nearest() -> None:
    X = clustered(1200, seed=2)
    X[100:103] = X[7]
    edges, _ = partitioned_knn_edges(X, k=6, partitions=3)
    for p in (7, 100, 101, 102):
        top = edges[(edges["source"] == p) & (edges["rank"] <= 3)]
        assert set(top["target"]) == {7, 100, 101, 102} - {p}
        assert (top["distance"] == 0).all()


def test_a_partition_with_hnsw_finds_the_exact_neighbours() -> None:
    base = clustered(2000, seed=3)
    queries = base[:200] + 0.01
    ids, dist = partition_neighbours(base, queries, 8, exact_max=0, threads=1)
    true = np.argsort(((queries[:, None] - base[None]) ** 2).sum(-1), axis=1)[:, :8]
    hits = [len(set(i) & set(t)) for i, t in zip(ids, true)]
    assert np.mean(hits) / 8 >= 0.98
    assert (np.diff(dist, axis=1) >= 0).all() and ids.dtype == np.int64


def test_routing_keeps_only_partitions_within_the_margin() -> None:
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 100.0]], dtype=np.float32)
    pts = np.array([[1.0, 0.0], [5.0, 0.0]], dtype=np.float32)
    near = nearest_partitions(pts, centres, 3, "l2", margin=0.2)
    assert near.tolist() == [[0, -1, -1], [0, 1, -1]]


def test_the_update_works_on_a_partitioned_table(X: np.ndarray, local) -> None:
    keys = [f"r{i}" for i in range(len(X))]
    extra = clustered(30, seed=5)
    new_keys = keys + [f"n{i}" for i in range(30)]
    Xn = np.concatenate([X, extra])
    edges, info = update_knn_edges(keys, local[0], new_keys, Xn, k=10)
    assert info.mode == "update" and info.added == 30
    assert knn_recall(Xn, edges, 10, sample=len(Xn)) >= 0.98
    new_rows = edges[edges["source"] >= len(X)]  # new rows: exact, as in a rebuild
    exact = knn_edges(Xn, k=10)
    pd.testing.assert_frame_equal(new_rows.reset_index(drop=True),
                                  exact[exact["source"] >= len(X)].reset_index(drop=True))
