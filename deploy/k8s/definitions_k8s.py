"""The xdeg code location for Kubernetes: every step in its own pod, feature extraction on GPU.

The code location of ``xdeg_pipeline.definitions`` (its assets, checks, jobs, sensors and
schedule, taken from it), with dagster-k8s's ``k8s_job_executor`` as the default executor of
the jobs that name none (``build``, ``find_paths``), configured from ``executor_k8s.yaml``
beside this file (its ``execution.config``; its ``resources.xdeg.config``
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

from xdeg_pipeline.assets import image_features
from xdeg_pipeline.definitions import defs as local_defs
from xdeg_pipeline.resources import XdegResource

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


def _assets(assets: list) -> list:
    """The main location's assets; ``image_features`` one shard per run when asked."""
    if os.environ.get(RUN_PER_SHARD_ENV, "0") in ("", "0"):
        return assets
    per_shard = image_features.with_attributes(backfill_policy=BackfillPolicy.multi_run(1))
    return [per_shard if a is image_features else a for a in assets]


# The main code location without its resources, merged with the k8s resource config and default
# executor; jobs that name their own executor (build_multiprocess, build_dask) keep it.
defs = Definitions.merge(
    Definitions(
        assets=_assets(list(local_defs.assets or [])),
        asset_checks=local_defs.asset_checks,
        jobs=local_defs.jobs,
        schedules=local_defs.schedules,
        sensors=local_defs.sensors,
        loggers=local_defs.loggers,
        metadata=local_defs.metadata,
    ),
    Definitions(
        resources={**(local_defs.resources or {}), "xdeg": XdegResource(**RESOURCE_CONFIG)},
        executor=k8s_xdeg_executor,
    ),
)
