"""Shards of the feature stage: 16 by the first hex digit of the content hash, so a shard's
images never move when others are added or removed (Dagster partitions ``0``-``f``)."""

from __future__ import annotations

SHARD_KEYS: list[str] = list("0123456789abcdef")


def shard_of(content_hash: str) -> str:
    """The shard of an image: the first hex digit of its sha256."""
    return content_hash[0].lower()
