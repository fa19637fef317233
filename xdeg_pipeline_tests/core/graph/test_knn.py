"""kNN edge table (exact below params.KNN_EXACT_MAX, nmslib HNSW above), exact reference and
recall."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from xdeg_pipeline.core.graph.knn import (
    exact_knn,
    knn_edges,
    knn_recall,
    pair_distances,
)


def clustered(n: int = 1500, dim: int = 24, clusters: int = 15, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 3
    return (centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("exact_max", [0, None], ids=["hnsw", "exact"])
@pytest.mark.parametrize("space", ["l2", "cosine"])
def test_edge_table_shape_order_and_recall(space, exact_max):
    X = clustered()
    k = 10
    edges = knn_edges(X, k, space=space, threads=2, exact_max=exact_max)
    assert list(edges.columns) == ["source", "target", "distance", "rank"]
    assert [str(t) for t in edges.dtypes] == ["int32", "int32", "float32", "int16"]
    assert (edges["source"] != edges["target"]).all()
    assert (edges.groupby("source").size() == k).all() and edges["source"].nunique() == len(X)
    for _, grp in list(edges.groupby("source"))[:50]:
        assert list(grp["rank"]) == list(range(1, k + 1))
        assert np.all(np.diff(grp["distance"].to_numpy()) >= 0)
    exact = pair_distances(X, edges["source"].to_numpy(), edges["target"].to_numpy(), space)
    np.testing.assert_allclose(edges["distance"].to_numpy(), exact, rtol=1e-5, atol=1e-6)
    assert knn_recall(X, edges, k, sample=300, space=space) >= 0.99


def test_l2_distance_is_euclidean_not_squared():
    X = np.array([[0, 0], [3, 4], [30, 40], [60, 80]], dtype=np.float32)
    edges = knn_edges(X, 1, space="l2")
    assert edges.set_index("source").loc[0, "distance"] == pytest.approx(5.0)


@pytest.mark.parametrize("exact_max", [0, None], ids=["hnsw", "exact"])
def test_exact_duplicates_are_each_others_neighbours(exact_max):
    X = clustered(400)
    X[10] = X[20] = X[30] = X[5]  # four copies of one vector
    edges = knn_edges(X, 5, exact_max=exact_max)
    assert (edges["source"] != edges["target"]).all()
    assert (edges.groupby("source").size() == 5).all()
    copies = {5, 10, 20, 30}
    for v in copies:
        nb = edges[edges["source"] == v]
        assert set(nb["target"][:3]) == copies - {v}
        assert (nb["distance"][:3] == 0).all()


def test_small_tables_are_exact_and_deterministic():
    """Below params.KNN_EXACT_MAX the table is the exact one, the same on every build."""
    from xdeg_pipeline.core import params
    from xdeg_pipeline.core.graph.knn import edge_table

    X = clustered(2000, 32)
    assert len(X) <= params.KNN_EXACT_MAX
    a, b = knn_edges(X, 10), knn_edges(X, 10, threads=1)
    ids, _ = exact_knn(X, 10, "l2")
    assert a.equals(b) and a.equals(edge_table(X, ids, 10, "l2"))
    assert knn_recall(X, a, 10, sample=500) == 1.0


def test_exact_knn_matches_brute_force():
    X = clustered(300, 8)
    idx, dist = exact_knn(X, 4, "l2")
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :4], rtol=1e-4, atol=1e-4)
    assert not (idx == np.arange(300)[:, None]).any()


def test_recall_notices_wrong_neighbours():
    X = clustered(500)
    edges = knn_edges(X, 5)
    assert knn_recall(X, edges, 5) >= 0.99
    wrong = edges.copy()
    wrong["target"] = np.random.default_rng(1).permutation(wrong["target"].to_numpy())
    assert knn_recall(X, wrong, 5) < 0.2


def test_tiny_collections():
    assert len(knn_edges(np.zeros((1, 4), np.float32), 5)) == 0
    X = clustered(4, 3)
    edges = knn_edges(X, 10)
    assert (edges.groupby("source").size() == 3).all()
    with pytest.raises(ValueError):
        knn_edges(np.full((5, 3), np.nan, np.float32), 2)


ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **env}, timeout=120)


def test_knn_prints_nothing_on_stderr():
    """The nmslib wheel's SIMD notice (printed by C++ on import) does not reach the user."""
    proc = _python("""
        import sys
        import numpy as np
        from xdeg_pipeline.core.graph.knn import knn_edges
        X = np.random.default_rng(0).random((300, 16), dtype=np.float32)
        print(len(knn_edges(X, 5, threads=1, exact_max=0)), "nmslib" in sys.modules)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1500", "True"]
    assert proc.stderr == ""


def test_import_nmslib_hides_only_the_notice(tmp_path):
    fake = tmp_path / "nmslib.py"
    fake.write_text(textwrap.dedent("""
        import os
        os.write(2, b"Your CPU supports instructions that this binary was not compiled to use:"
                    b" SSE3 AVX\\nFor maximum performance, you can install NMSLIB from sources \\n"
                    b"pip install --no-binary :all: nmslib\\nsomething else went wrong\\n")
    """))
    proc = _python("""
        from xdeg_pipeline.core.graph.knn import import_nmslib
        print(import_nmslib().__file__)
    """, PYTHONPATH=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(fake)
    assert proc.stderr == "something else went wrong\n"
