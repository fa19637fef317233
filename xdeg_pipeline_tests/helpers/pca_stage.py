"""What the image_features and pca_features stages leave in a data folder, for tests of the
stages after them."""

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


def write_image_features(home: Path, keys: list[str], F: np.ndarray) -> None:
    """What the image_features stage leaves: the rows in one shard and its state."""
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline.core.storage.state import fingerprint

    shard = Layout(home).image_features_shard("0")
    shard.parent.mkdir(parents=True, exist_ok=True)
    write_feature_table(keys, F, shard)
    write_state(home, "image_features", {
        "output_fingerprint": fingerprint(keys, F.tobytes().hex()[:64], len(F)),
        "images": len(keys), "dim": int(F.shape[1]), "shards": {"0": len(keys)},
        "stale_shards": []})


def clustered_vectors(n: int, seed: int) -> np.ndarray:
    """``n`` 16-d points around 20 random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (20, 16))
    return (centres[rng.integers(0, 20, n)] + rng.normal(0, 1, (n, 16))).astype(np.float32)
