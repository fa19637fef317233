"""What the pca_features stage leaves in a data folder, for tests of the stages after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xdeg_pipeline.core.storage.state import write_state
from xdeg_pipeline.core.storage.tables import write_feature_table


def write_pca(home: Path, keys: list[str], Z: np.ndarray, model_id: str,
              transform: int = 2) -> None:
    """What the pca_features stage leaves: its table and its state (``transform``: what a
    reduced row holds, as the stage records it)."""
    write_feature_table(keys, Z, home / "pca_features.parquet")
    write_state(home, "pca_features", {"output_fingerprint": f"{model_id}-{len(keys)}-{transform}",
                                       "model_id": model_id, "transform": transform})


def clustered_vectors(n: int, seed: int) -> np.ndarray:
    """``n`` 16-d points around 20 random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (20, 16))
    return (centres[rng.integers(0, 20, n)] + rng.normal(0, 1, (n, 16))).astype(np.float32)
