"""Shards of the feature stage as Dagster partitions (shard keys: :mod:`core.storage.shards`)."""

from __future__ import annotations

from dagster import AssetExecutionContext, StaticPartitionsDefinition

from xdeg_pipeline.core.storage.shards import SHARD_KEYS, shard_of

SHARDS = StaticPartitionsDefinition(SHARD_KEYS)

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

__all__ = ["SHARDS", "SHARD_KEYS", "all_shards_tags", "run_shards", "shard_of"]


def all_shards_tags() -> dict[str, str]:
    """Run tags that make one run materialise every shard (a single-run backfill)."""
    return {RANGE_START_TAG: SHARD_KEYS[0], RANGE_END_TAG: SHARD_KEYS[-1]}


def run_shards(context: AssetExecutionContext) -> list[str]:
    """The shards a run materialises: its partition(s), or all of them in an unpartitioned run
    (e.g. ``materialize()`` without partition tags)."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return list(SHARD_KEYS)
