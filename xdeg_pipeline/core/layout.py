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
    def collection_map(self) -> Path:
        """content_hash, x, y: the 2-D map of the collection."""
        return self.home / "collection_map.parquet"

    @property
    def collection_map_png(self) -> Path:
        return self.home / "collection_map.png"

    @property
    def thumbnails_dir(self) -> Path:
        """Content-addressed thumbnails (``<size>/<hash[:2]>/<hash>.webp``) and map atlases."""
        return self.home / "thumbnails"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"
