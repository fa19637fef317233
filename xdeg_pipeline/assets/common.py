"""What every asset module shares: the automation condition, the code version, and turning the
resource into settings and a reporter, and a stage's result into a materialisation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    DataVersion,
    Failure,
    MaterializeResult,
)

from xdeg_pipeline.assets.metadata import to_metadata
from xdeg_pipeline.core.progress import is_terminal, progress_reporter
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Reporter, StageResult
from xdeg_pipeline.core.storage.faults import DataFolderFault

CODE_VERSION = "1"
EAGER = AutomationCondition.eager()
#: What every asset after raw_images declares: the code version, and that it follows its
#: upstream assets (declarative automation).
FOLLOWS_UPSTREAM = {"code_version": CODE_VERSION, "automation_condition": EAGER}


def reporter(context: AssetExecutionContext, settings: Settings) -> Reporter:
    """Stage output into the run's log; progress also as a bar or lines on stderr when the
    settings ask for it (the CLI does; a run in the UI logs its progress)."""
    show = settings.progress_mode(is_terminal(), fallback="off")

    def progress(desc: str):
        return progress_reporter(desc, context.log.info, show=show)

    return Reporter(info=context.log.info, warn=context.log.warning, progress=progress)


def plain_faults(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Under ``@asset``: a fault of the data folder (disk full, read-only, a vanished
    collection: :class:`DataFolderFault`) fails the step with its one sentence as the message,
    the sentence the CLI prints."""

    @functools.wraps(fn)
    def asset_fn(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataFolderFault as exc:
            raise Failure(description=str(exc), allow_retries=False) from exc

    return asset_fn


def pick(result: StageResult, *keys: str) -> dict[str, Any]:
    """Facts of the run or fields of the state, by name."""
    return {key: result.get(key) for key in keys}


def add_partition_metadata(context: AssetExecutionContext,
                           by_partition: dict[str, dict[str, Any]]) -> None:
    """Metadata of each partition the run materialises, on that partition's own
    materialisation (the run's metadata goes to every partition of the run alike)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return  # an unpartitioned run of a partitioned asset: one materialisation
    for key in context.partition_keys:
        if key in by_partition:
            context.add_asset_metadata(by_partition[key], partition_key=key)


def materialized(result: StageResult, **metadata: Any) -> MaterializeResult:
    """The materialisation of a stage: its output fingerprint as the data version, the
    metadata given and the seconds the stage took."""
    fp = result.output_fingerprint
    return MaterializeResult(
        data_version=DataVersion(fp) if fp else None,
        metadata=to_metadata({**metadata, "seconds": round(result.seconds, 3)}),
    )
