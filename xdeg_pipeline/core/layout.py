"""Where each stage's files live inside the data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """File names of every output under one data folder (``home``)."""

    home: Path

    @property
    def raw_images(self) -> Path:
        return self.home / "raw_images.parquet"

    @property
    def rejected_images(self) -> Path:
        return self.home / "rejected_images.parquet"

    @property
    def feature_cache(self) -> Path:
        return self.home / "feature_cache"

    @property
    def model_cache(self) -> Path:
        """Exported backbones for the inference runtimes (one file per weights hash)."""
        return self.home / "models"

    @property
    def image_features(self) -> Path:
        return self.home / "image_features.parquet"

    @property
    def image_features_dir(self) -> Path:
        """Per-shard feature tables (what downstream stages read)."""
        return self.home / "image_features"

    def image_features_shard(self, shard: str) -> Path:
        return self.image_features_dir / f"shard={shard}.parquet"

    def feature_cache_shard(self, shard: str) -> Path:
        """Root of one shard's content-hash feature cache (one folder per cache key inside)."""
        return self.feature_cache / f"shard={shard}"

    @property
    def pca_features(self) -> Path:
        return self.home / "pca_features.parquet"

    @property
    def pca_model(self) -> Path:
        return self.home / "pca_model.npz"

    @property
    def knn_edges(self) -> Path:
        return self.home / "knn_edges.parquet"

    @property
    def similarity_graph(self) -> Path:
        return self.home / "similarity_graph.pkl"

    @property
    def paths_dir(self) -> Path:
        return self.home / "paths"

    @property
    def requested_paths(self) -> Path:
        return self.paths_dir / "requested_paths.parquet"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"
