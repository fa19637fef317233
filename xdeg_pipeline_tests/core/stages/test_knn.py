"""The knn_edges stage: updated for added images (same PCA model), rebuilt otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.graph.knn import knn_edges as full_build
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.knn import knn_edges
from xdeg_pipeline.core.storage.state import write_state
from xdeg_pipeline.core.storage.tables import write_feature_table


def _pca(home: Path, keys: list[str], Z: np.ndarray, model_id: str) -> None:
    """What the pca_features stage leaves: its table and its state."""
    write_feature_table(keys, Z, home / "pca_features.parquet")
    write_state(home, "pca_features", {"output_fingerprint": f"{model_id}-{len(keys)}",
                                       "model_id": model_id})


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (20, 16))
    return (centres[rng.integers(0, 20, n)] + rng.normal(0, 1, (n, 16))).astype(np.float32)


def test_added_images_update_the_table(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, k=8)
    keys = [f"{i:064x}" for i in range(600)]
    Z = _vectors(600, 0)
    _pca(tmp_path, keys, Z, "m1")
    first = knn_edges(settings)
    assert first.facts["mode"] == "build" and not first.reused
    assert pd.read_parquet(tmp_path / "knn_rows.parquet")["content_hash"].tolist() == keys

    again = knn_edges(settings)  # nothing changed: reused
    assert again.reused

    new_keys = keys[5:] + [f"{i:064x}" for i in range(1000, 1012)]  # -5, +12, reordered
    order = np.random.default_rng(1).permutation(len(new_keys))
    new_keys = [new_keys[i] for i in order]
    Zn = np.concatenate([Z[5:], _vectors(12, 7)])[order]
    _pca(tmp_path, new_keys, Zn, "m1")
    grown = knn_edges(settings)
    assert grown.facts["mode"] == "update"
    assert 12 <= grown.facts["rows_searched"] < 60
    edges = pd.read_parquet(tmp_path / "knn_edges.parquet")
    pd.testing.assert_frame_equal(edges, full_build(Zn, k=8))  # exact: the same as a rebuild
    assert grown.state["images"] == len(new_keys)

    _pca(tmp_path, new_keys, Zn * 1.5, "m2")  # a refitted PCA: every vector moved
    assert knn_edges(settings).facts["mode"] == "build"


def test_a_rows_file_that_does_not_match_rebuilds(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, k=5)
    keys = [f"{i:064x}" for i in range(200)]
    Z = _vectors(200, 3)
    _pca(tmp_path, keys, Z, "m1")
    knn_edges(settings)
    # a crash between the two writes: rows of another table
    pd.DataFrame({"content_hash": keys[::-1]}).to_parquet(tmp_path / "knn_rows.parquet")
    _pca(tmp_path, keys + ["f" * 64], np.concatenate([Z, _vectors(1, 9)]), "m1")
    result = knn_edges(settings)
    assert result.facts["mode"] == "build"
    (tmp_path / "knn_rows.parquet").write_bytes(b"garbage")
    _pca(tmp_path, keys, Z, "m1")
    assert knn_edges(settings).facts["mode"] == "build"  # unreadable: rebuilt, no crash
