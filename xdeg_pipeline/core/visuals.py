"""The visual outputs of a data folder: thumbnails + atlases, the collection map and its PNG.

Each function reads what the earlier stages wrote (``raw_images``, ``pca_features``), does only
the new work (thumbnails of new content, placement of new images) and writes atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.atlases import AtlasSet, build_atlases, load_atlases, save_atlases
from xdeg_pipeline.core.atlases import remove_unlisted as remove_unlisted_sheets
from xdeg_pipeline.core.collection_map import MapParams, MapResult, build_map, read_map, write_map
from xdeg_pipeline.core.image_files import files_by_hash
from xdeg_pipeline.core.layout import Layout
from xdeg_pipeline.core.map_picture import atlas_cells, map_picture
from xdeg_pipeline.core.tables import read_feature_table
from xdeg_pipeline.core.thumbnails import ThumbnailStats, ThumbnailStore


def thumbnail_store(layout: Layout) -> ThumbnailStore:
    return ThumbnailStore(layout.thumbnails_dir)


@dataclass
class ThumbnailResult:
    stats: ThumbnailStats
    atlases: AtlasSet


def update_thumbnails(
    layout: Layout,
    images_root: Path,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ThumbnailResult:
    """Thumbnails for every image of ``raw_images`` that has none, then the atlases."""
    manifest = pd.read_parquet(layout.raw_images, columns=None)
    files = files_by_hash(manifest, images_root)
    store = thumbnail_store(layout)
    stats = store.build(sorted(files.items()), workers=workers, progress=progress)
    folder = layout.atlas_dir
    atlases = build_atlases(sorted(files), store, folder, previous=load_atlases(folder))
    save_atlases(atlases, folder)
    remove_unlisted_sheets(atlases, folder)
    return ThumbnailResult(stats, atlases)


def update_map(
    layout: Layout, params: MapParams | None = None, refit: bool = False
) -> MapResult:
    """The collection map from ``pca_features`` (new images placed into the stored map)."""
    hashes, X = read_feature_table(layout.pca_features)
    previous = read_map(layout.collection_map)
    result = build_map(hashes, X, previous, params or MapParams(), refit=refit)
    if result.mode != "unchanged" or not layout.collection_map.exists():
        write_map(result.table, layout.collection_map)
    return result


def draw_map(
    layout: Layout,
    out: Path,
    chain: Sequence[str] | None = None,
    chain_labels: Sequence[str] | None = None,
    title: str | None = None,
    attribution: str | None = None,
    size: int = 1600,
) -> Path:
    """The map PNG of the data folder (thumbnails from the atlases), a chain (hashes) on top."""
    table = read_map(layout.collection_map)
    if table is None:
        raise FileNotFoundError(f"no collection map in {layout.home}: build it first")
    atlases = load_atlases(layout.atlas_dir)
    cells = atlas_cells(atlases, layout.atlas_dir) if atlases is not None else (lambda h: None)
    return map_picture(
        table["content_hash"].tolist(), table[["x", "y"]].to_numpy(), cells, out, size=size,
        chain=chain, chain_labels=chain_labels, title=title, attribution=attribution,
    )
