"""sorted_unique: numpy's unique, by one sort."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.arrays import sorted_unique


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
