"""sorted_unique and contained: numpy's unique and isin, by one sort; segments of CSR rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import random as sparse_random

from xdeg_pipeline.core.arrays import contained, segments, sorted_unique


@pytest.mark.parametrize("values", [
    np.zeros(0, np.int64), np.array([7]), np.array([3, 3, 3]), np.array([[5, 1], [1, -2]]),
    np.random.default_rng(0).integers(-50, 50, 1_000),
    np.random.default_rng(1).integers(0, 2**40, 5_000),
])
def test_it_is_numpys_unique(values: np.ndarray) -> None:
    got = sorted_unique(values)
    expected = np.unique(values)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("pool", [
    np.zeros(0, np.int64), np.array([4]), np.array([9, 2, 2, 7]),
    np.random.default_rng(2).integers(0, 2**40, 3_000),
])
def test_contained_is_numpys_isin(pool: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.choice(pool, 50) if len(pool) else np.zeros(0, np.int64),
                             rng.integers(0, 2**40, 50), np.array([-1, 0, 2**41])])
    np.testing.assert_array_equal(contained(values, pool), np.isin(values, pool))
    grid = values[:6].reshape(2, 3)
    np.testing.assert_array_equal(contained(grid, pool), np.isin(grid, pool))


def test_segments_are_the_rows_entries_in_order() -> None:
    A = sparse_random(50, 40, density=0.2, format="csr", random_state=1)
    rows = np.array([3, 0, 17, 17, 49])
    at = segments(A.indptr[rows], A.indptr[rows + 1])
    assert np.array_equal(A.indices[at], np.concatenate([A[r].indices for r in rows]))
    assert len(segments(A.indptr[rows[:0]], A.indptr[rows[:0] + 1])) == 0
