"""Shards of the feature stage: 16 by the first hex digit of the content hash, so a shard's
images never move when others are added or removed (Dagster partitions ``0``-``f``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xdeg_pipeline.core.storage.layout import Layout

SHARD_KEYS: list[str] = list("0123456789abcdef")


def shard_of(content_hash: str) -> str:
    """The shard of an image: the first hex digit of its sha256."""
    return content_hash[0].lower()


def feature_shard_files(layout: Layout, features_state: dict) -> list[Path]:
    """The feature tables of the shards that hold images, in shard order (the row order of
    pca_features), from image_features' state."""
    counts = features_state.get("shards", {})
    return [layout.image_features_shard(p) for p in SHARD_KEYS if int(counts.get(p, 0)) > 0]
