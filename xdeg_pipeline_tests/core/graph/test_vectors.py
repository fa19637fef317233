"""The vectors of a stored graph's vertices, read from the feature table by content hash."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.lean import LeanGraph
from xdeg_pipeline.core.graph.vectors import graph_vectors
from xdeg_pipeline.core.storage.feature_table import to_arrow


def _graph(n: int = 60):
    X = np.random.default_rng(3).normal(size=(n, 8)).astype(np.float32)
    hashes = [f"h{i:03d}" for i in range(n)]
    g = LeanGraph.of(build_graph(knn_edges(X, k=6), X, vertex_attrs={"content_hash": hashes}))
    return X, hashes, g


def _read(table, hashes, g, why: str = ""):
    X, said = graph_vectors(table, hashes, g.eu, g.ev, g.edge_arrays["weight"], "l2")
    assert why in said and (X is None) == bool(said), said
    return X


def test_rows_follow_the_vertices_whatever_the_table_order(tmp_path):
    X, hashes, g = _graph()
    order = np.random.default_rng(0).permutation(len(X))
    pq.write_table(to_arrow([hashes[i] for i in order], X[order]), tmp_path / "pca.parquet")
    got = _read(tmp_path / "pca.parquet", hashes, g)
    assert got is not None and got.dtype == np.float32
    np.testing.assert_array_equal(got, X)


def test_large_tables_are_held_as_halves(tmp_path):
    X, hashes, g = _graph()
    pq.write_table(to_arrow(hashes, X), tmp_path / "pca.parquet")
    half, _ = graph_vectors(tmp_path / "pca.parquet", hashes, g.eu, g.ev,
                            g.edge_arrays["weight"], "l2", half_above=X.nbytes - 1)
    assert half is not None and half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), X, rtol=2e-3, atol=2e-3)


def test_none_when_the_table_is_not_the_graphs(tmp_path):
    X, hashes, g = _graph()
    table = tmp_path / "pca.parquet"
    pq.write_table(to_arrow(hashes, X * 1.5), table)  # a later build's vectors
    assert _read(table, hashes, g, "not the graph's space") is None
    pq.write_table(to_arrow(hashes[:-1], X[:-1]), table)  # a vertex missing
    assert _read(table, hashes, g, "lacks 1 image(s)") is None
    pq.write_table(to_arrow(hashes + hashes[:1], np.vstack([X, X[:1]])), table)  # twice
    assert _read(table, hashes, g, "no row per image") is None
    table.write_bytes(b"PAR1 damaged")
    assert _read(table, hashes, g, "could not be read") is None
    assert _read(tmp_path / "absent.parquet", hashes, g, "could not be read") is None
