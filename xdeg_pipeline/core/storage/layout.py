"""Every path xdeg reads or writes inside the data folder: the one place file names live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """File names of every output under one data folder (``home``)."""

    home: Path

    # ------------------------------------------------------------------ ingest
    @property
    def raw_images(self) -> Path:
        return self.home / "raw_images.parquet"

    @property
    def rejected_images(self) -> Path:
        return self.home / "rejected_images.parquet"

    @property
    def image_metadata(self) -> Path:
        """name + the URL manifest's columns (manifest collections only)."""
        return self.home / "image_metadata.parquet"

    @property
    def downloads(self) -> Path:
        """Everything fetched for a URL manifest."""
        return self.home / "downloads"

    @property
    def download_cache(self) -> Path:
        """The URL-keyed cache of downloaded files."""
        return self.downloads / "cache"

    @property
    def download_failures(self) -> Path:
        """URLs that failed for good, with when (JSON)."""
        return self.download_cache / "failures.json"

    @property
    def iiif_documents(self) -> Path:
        """IIIF collections and manifests kept with their validators (conditional GETs)."""
        return self.downloads / "iiif"

    @property
    def downloaded_images(self) -> Path:
        """A manifest's images under their names: the collection folder that is scanned."""
        return self.downloads / "images"

    @property
    def openmoji_images(self) -> Path:
        """The embedded default collection (OpenMoji rendered to PNG)."""
        return self.home / "openmoji" / "images"

    # ------------------------------------------------------------------ features
    @property
    def feature_cache(self) -> Path:
        return self.home / "feature_cache"

    def feature_cache_shard(self, shard: str) -> Path:
        """Root of one shard's content-hash feature cache (one folder per cache key inside)."""
        return self.feature_cache / f"shard={shard}"

    @property
    def model_cache(self) -> Path:
        """Exported backbones for the inference runtimes (one file per weights hash)."""
        return self.home / "models"

    @property
    def image_features(self) -> Path:
        """All shards in one table (optional, see ``combined_features``)."""
        return self.home / "image_features.parquet"

    @property
    def image_features_dir(self) -> Path:
        """Per-shard feature tables (what downstream stages read)."""
        return self.home / "image_features"

    def image_features_shard(self, shard: str) -> Path:
        return self.image_features_dir / f"shard={shard}.parquet"

    @property
    def pca_features(self) -> Path:
        return self.home / "pca_features.parquet"

    @property
    def pca_model(self) -> Path:
        return self.home / "pca_model.npz"

    # ------------------------------------------------------------------ graph and paths
    @property
    def knn_edges(self) -> Path:
        return self.home / "knn_edges.parquet"

    @property
    def knn_candidates(self) -> Path:
        """The kNN table's candidates (``KNN_RERANK x k`` per image, in the PCA space), which
        updates for new images start from; ``knn_edges`` keeps the k nearest of them."""
        return self.home / "knn_candidates.parquet"

    @property
    def knn_rows(self) -> Path:
        """The content hash of each row the kNN table's numbers refer to (for updates)."""
        return self.home / "knn_rows.parquet"

    @property
    def image_outlines(self) -> Path:
        """The outline of every image with a thumbnail (:mod:`..images.outline`), by hash."""
        return self.home / "image_outlines.parquet"

    @property
    def similarity_graph(self) -> Path:
        return self.home / "similarity_graph.pkl"

    @property
    def near_duplicates(self) -> Path:
        """Groups of images closer than the near-duplicate distance (one row per image)."""
        return self.home / "near_duplicates.parquet"

    @property
    def near_duplicates_dir(self) -> Path:
        """Example strips of the largest near-duplicate groups."""
        return self.home / "near_duplicates"

    @property
    def paths_dir(self) -> Path:
        return self.home / "paths"

    @property
    def requested_paths(self) -> Path:
        return self.paths_dir / "requested_paths.parquet"

    @property
    def answered_chains(self) -> Path:
        """Every chain requested_paths has answered (first of each request), by chain id: a
        refresh answers it again while it holds and nothing truly better appeared."""
        return self.paths_dir / "answered_chains.parquet"

    @property
    def explorer_chains(self) -> Path:
        """The chains the explorer answered (first of each request), by chain id: it answers
        them again, as requested_paths does its own (explorer/answers.py)."""
        return self.paths_dir / "explorer_chains.parquet"

    @property
    def failed_requests(self) -> Path:
        """The requested pairs that got no chain, with the reason."""
        return self.paths_dir / "failed_requests.parquet"

    def paths_folder(self, label: str) -> Path:
        """Pictures of chains asked for outside the find_paths job (``demo``, ``cli``)."""
        return self.paths_dir / label

    # ------------------------------------------------------------------ bookkeeping
    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def state_file(self, stage: str) -> Path:
        """What a stage recorded after its last successful write (JSON)."""
        return self.state_dir / f"{stage}.json"

    def lock_file(self, name: str = "build") -> Path:
        """An ``flock`` file: ``build`` for the data folder, ``shard-<p>`` for one shard."""
        return self.home / f".{name}.lock"

    # ------------------------------------------------------------------ map and thumbnails
    @property
    def collection_map(self) -> Path:
        """content_hash, x, y: the 2-D map of the collection."""
        return self.home / "collection_map.parquet"

    @property
    def collection_map_png(self) -> Path:
        return self.home / "collection_map.png"

    @property
    def thumbnails_dir(self) -> Path:
        """Content-addressed thumbnails (``webp<size>/<hash[:2]>/<hash>.webp``)."""
        return self.home / "thumbnails"

    @property
    def atlas_dir(self) -> Path:
        """The map's atlas sheets (``<sha256>.webp``) and their tables."""
        return self.thumbnails_dir / "atlas"

    @property
    def atlas_index(self) -> Path:
        """content_hash, sheet, slot: where each thumbnail is in the atlases."""
        return self.atlas_dir / "atlas_index.parquet"

    @property
    def atlas_sheets(self) -> Path:
        """sheet, members, sha256, count, cell, side: the atlas sheets."""
        return self.atlas_dir / "atlas_sheets.parquet"

    def chain_map_png(self, chain_id: str) -> Path:
        """The collection map with one requested chain drawn over it."""
        return self.paths_dir / f"{chain_id}.map.png"

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance of the CLI."""
        return self.home / "dagster"

    @property
    def dagster_config(self) -> Path:
        return self.dagster_home / "dagster.yaml"
