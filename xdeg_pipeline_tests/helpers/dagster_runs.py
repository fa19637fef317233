"""Dagster runs in end-to-end tests: the build's assets and checks materialised in process,
and the metadata one asset reported."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetChecksDefinition, DagsterInstance, ExecuteInProcessResult, materialize

from xdeg_pipeline.assets import BUILD_ASSETS
from xdeg_pipeline.checks import BUILD_CHECKS
from xdeg_pipeline.resources import XdegResource


def build(instance: DagsterInstance,
          checks: Sequence[AssetChecksDefinition] = BUILD_CHECKS) -> ExecuteInProcessResult:
    """Materialise every build asset and ``checks`` on ``instance`` (resource from the env)."""
    return materialize([*BUILD_ASSETS, *checks], instance=instance,
                       resources={"xdeg": XdegResource()})


def metadata_of(result: ExecuteInProcessResult, key: str) -> dict:
    """The metadata values asset ``key`` reported in ``result`` (KeyError if not materialised)."""
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise KeyError(key)
