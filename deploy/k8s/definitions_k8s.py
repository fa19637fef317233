"""The xdeg code location for Kubernetes: every step in its own pod, feature extraction on GPU.

The same assets, checks, jobs, sensor and schedule as ``xdeg_pipeline.definitions``, with
dagster-k8s's ``k8s_job_executor`` as the default executor, configured from
``executor_k8s.yaml`` beside this file (its ``execution.config``; its ``resources.xdeg.config``
configures the xdeg resource; ``$XDEG_K8S_CONFIG`` names another file). Serve it with

    dagster api grpc --python-file deploy/k8s/definitions_k8s.py -p 3030

(the image of ``deploy/k8s/Dockerfile`` does this; ``deploy/k8s/values.yaml`` deploys it with the
dagster Helm chart). Not imported by the package: it needs ``dagster-k8s``, which xdeg does not
depend on.

Set ``XDEG_K8S_RUN_PER_SHARD=1`` to give ``image_features`` a one-shard-per-run backfill policy,
so that a backfill of the 16 shards launches 16 runs, each with its own GPU step pod (by default
a backfill is one run whose ``image_features`` pod computes the shards one after another).
They overlap: a shard's extraction holds only that shard's lock (docs/scaling.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

try:
    from dagster_k8s import k8s_job_executor
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "deploy/k8s/definitions_k8s.py needs dagster-k8s, which xdeg does not install: "
        "pip install dagster-k8s==0.29.27 dagster-postgres==0.29.27 (the releases matching "
        "dagster 1.13.27). For a local or Dask build use xdeg_pipeline.definitions instead."
    ) from exc

from dagster import BackfillPolicy, Definitions

from xdeg_pipeline.assets import ALL_ASSETS, image_features
from xdeg_pipeline.checks import ALL_CHECKS
from xdeg_pipeline.jobs import build_job, find_paths
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline.schedules import refresh_schedule
from xdeg_pipeline.sensors import automation_sensor, collection_sensor

CONFIG_FILE = Path(
    os.environ.get("XDEG_K8S_CONFIG") or Path(__file__).with_name("executor_k8s.yaml")
)
RUN_PER_SHARD_ENV = "XDEG_K8S_RUN_PER_SHARD"


def load_config(path: Path = CONFIG_FILE) -> tuple[dict, dict]:
    """(executor config, xdeg resource config) from a run-config-shaped YAML file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    executor_config = (data.get("execution") or {}).get("config") or {}
    resource_config = ((data.get("resources") or {}).get("xdeg") or {}).get("config") or {}
    return executor_config, resource_config


EXECUTOR_CONFIG, RESOURCE_CONFIG = load_config()
#: The pod settings of the extraction step; the same dict works as the op tag
#: ``op_tags={"dagster-k8s/config": GPU_STEP_K8S_CONFIG}`` on the image_features asset.
GPU_STEP_K8S_CONFIG: dict = EXECUTOR_CONFIG.get("per_step_k8s_config", {}).get(
    "image_features", {}
)

k8s_xdeg_executor = k8s_job_executor.configured(EXECUTOR_CONFIG, name="k8s_xdeg")


def _assets() -> list:
    if os.environ.get(RUN_PER_SHARD_ENV, "0") in ("", "0"):
        return list(ALL_ASSETS)
    per_shard = image_features.with_attributes(backfill_policy=BackfillPolicy.multi_run(1))
    return [per_shard if a is image_features else a for a in ALL_ASSETS]


defs = Definitions(
    assets=_assets(),
    asset_checks=ALL_CHECKS,
    jobs=[build_job, find_paths],  # jobs without their own executor get k8s_xdeg_executor
    schedules=[refresh_schedule],
    sensors=[collection_sensor, automation_sensor],
    resources={"xdeg": XdegResource(**RESOURCE_CONFIG)},
    executor=k8s_xdeg_executor,
)
