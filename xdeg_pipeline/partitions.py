"""Shards of the feature stage: 16 stable Dagster partitions by the first hex digit of the
content hash, so a shard's images never move when others are added or removed."""

from __future__ import annotations

from dagster import StaticPartitionsDefinition

SHARD_KEYS: list[str] = list("0123456789abcdef")
SHARDS = StaticPartitionsDefinition(SHARD_KEYS)

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def shard_of(content_hash: str) -> str:
    """The shard (partition key) of an image: the first hex digit of its sha256."""
    return content_hash[0].lower()


def all_shards_tags() -> dict[str, str]:
    """Run tags that make one run materialise every shard (a single-run backfill)."""
    return {RANGE_START_TAG: SHARD_KEYS[0], RANGE_END_TAG: SHARD_KEYS[-1]}
