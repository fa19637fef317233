"""The collection's pictures read back from a data folder: the map (thumbnails from the
atlases at their positions) with or without a chain, as PNG bytes; the map of a grown
collection made by adding the new images to the stored picture."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xdeg_pipeline.core.pictures.atlases import ATLAS_VERSION, load_atlases
from xdeg_pipeline.core.pictures.collection_map import read_map
from xdeg_pipeline.core.pictures.map_picture import (
    PICTURE_VERSION,
    ThumbOf,
    add_to_map_png,
    atlas_cells,
    map_png,
)
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import fingerprint


def thumbnail_store(layout: Layout) -> ThumbnailStore:
    """The thumbnails of a data folder."""
    return ThumbnailStore(layout.thumbnails_dir)


def atlas_thumbs(layout: Layout) -> ThumbOf:
    """Content hash -> its atlas cell (None when there are no atlases or no cell)."""
    atlases = load_atlases(layout.atlas_index, layout.atlas_sheets)
    return atlas_cells(atlases, layout.atlas_dir) if atlases is not None else (lambda h: None)


def map_picture_png(
    layout: Layout,
    table: pd.DataFrame | None = None,
    chain: Sequence[str] | None = None,
    chain_labels: Sequence[str] | None = None,
    title: str | None = None,
    attribution: str | None = None,
    size: int = 1600,
    height: int | None = None,
) -> bytes:
    """The map PNG of the data folder (``table``: the map, else the stored one), with the
    chain (content hashes) drawn over it; ``size`` px wide, ``height`` high (default: a square
    map)."""
    table = read_map(layout.collection_map) if table is None else table
    if table is None:
        raise FileNotFoundError(f"no collection map in {layout.home}: build it first")
    return map_png(table["content_hash"].tolist(), table[["x", "y"]].to_numpy(),
                   atlas_thumbs(layout), size=size, height=height, chain=chain,
                   chain_labels=chain_labels, title=title, attribution=attribution)


def map_picture_key(attribution: str | None) -> str:
    """What the stored map picture is drawn with, besides the map (recorded with it: a
    picture drawn otherwise is drawn again whole, never added to)."""
    return fingerprint(PICTURE_VERSION, ATLAS_VERSION, attribution)


def added_map_picture_png(layout: Layout, table: pd.DataFrame, new_from: int,
                          attribution: str | None = None) -> bytes | None:
    """``map_picture_png(layout, table, attribution=attribution)`` made by adding the rows
    of ``table`` from ``new_from`` on to the stored picture of the rows before
    (:func:`add_to_map_png`); None where it cannot be (no stored picture, a wider map...)."""
    try:
        previous = layout.collection_map_png.read_bytes()
    except OSError:
        return None
    return add_to_map_png(previous, table["content_hash"].tolist(),
                          table[["x", "y"]].to_numpy(), new_from, atlas_thumbs(layout),
                          attribution=attribution)
