"""Feature rows in well separated Gaussian clusters, for the map and placement tests."""

from __future__ import annotations

import numpy as np


def clusters(n_per: int, k: int = 3, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well separated Gaussian clusters: (features, cluster label)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, dim))
    label = np.repeat(np.arange(k), n_per)
    return (centres[label] + rng.normal(0, 1, (len(label), dim))).astype(np.float32), label
