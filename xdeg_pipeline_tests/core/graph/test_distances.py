"""Distance spaces: exact pairs and blocked (prepared) distances agree."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.distances import Prepared, check_space, pair_distances


@pytest.mark.parametrize("space", ["l2", "cosine"])
def test_blocked_distances_match_exact_pairs(space):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(60, 12)) * rng.uniform(0.1, 10, size=(60, 1))).astype(np.float32)
    prep = Prepared.of(X, space)
    D = prep.distances(X[:25])
    a, b = np.meshgrid(np.arange(25), np.arange(60), indexing="ij")
    exact = pair_distances(X, a.ravel(), b.ravel(), space).reshape(25, 60)
    if space == "l2":  # squared-norm expansion: error relative to the norms, not the distance
        sq = (X.astype(np.float64) ** 2).sum(axis=1)
        scale = sq[:25, None] + sq[None, :]
        err = np.abs(D.astype(np.float64) ** 2 - exact.astype(np.float64) ** 2)
        assert (err <= 1e-5 * scale).all()
    else:
        np.testing.assert_allclose(D, exact, atol=1e-5)
    assert D.dtype == np.float32 and (D >= 0).all()
    rows = np.array([5, 0, 59])
    np.testing.assert_array_equal(prep.subset(rows).distances(X[:7]), D[:7][:, rows])


def test_pair_distances_are_euclidean_and_one_minus_cosine():
    X = np.array([[3, 4], [0, 0], [6, 8], [-3, -4]], dtype=np.float32)
    a, b = np.array([0, 0, 0]), np.array([1, 2, 3])
    assert pair_distances(X, a, b, "l2").tolist() == [5.0, 5.0, 10.0]
    assert pair_distances(X, a[1:], b[1:], "cosine").tolist() == pytest.approx([0.0, 2.0])


def test_space_names():
    assert check_space("cosinesimil") == "cosine" and check_space("l2") == "l2"
    with pytest.raises(ValueError, match="unknown space"):
        check_space("l1")


@pytest.mark.parametrize("space", ["l2", "cosine"])
def test_pair_distances_do_not_depend_on_the_chunk(space, monkeypatch):
    """Pairs are measured in chunks (a few per chunk here, one chunk below): the same values."""
    from xdeg_pipeline.core.graph import distances

    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 300)).astype(np.float32)
    a, b = rng.integers(0, 50, 1000), rng.integers(0, 50, 1000)
    whole = pair_distances(X, a, b, space)
    monkeypatch.setattr(distances, "PAIR_CHUNK_VALUES", 1)  # 64 pairs a chunk
    np.testing.assert_array_equal(pair_distances(X, a, b, space), whole)
    monkeypatch.setattr(distances, "PAIR_CHUNK_VALUES", 10**9)
    np.testing.assert_array_equal(pair_distances(X, a, b, space), whole)
