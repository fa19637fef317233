"""Checks of deploy/ against the optional libraries it is written for (not installed by xdeg):

    pip install dagster-k8s==0.29.27 dask-jobqueue kubernetes
    pytest deploy/test_with_extras.py

The suite's own deploy tests (xdeg_pipeline_tests/test_deploy_configs.py) run without them.
"""

from __future__ import annotations

import pytest
from dagster import Definitions, define_asset_job, validate_run_config

from xdeg_pipeline.assets import ALL_ASSETS
from xdeg_pipeline.checks import ALL_CHECKS
from xdeg_pipeline.jobs import BUILD_SELECTION
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.deploy import (
    DEPLOY,
    GPU,
    K8S,
    K8S_EXECUTOR_SCHEMA,
    K8S_USER_CONFIG,
    load_yaml,
)


@pytest.fixture(scope="module")
def k8s_config() -> dict:
    return load_yaml(K8S / "executor_k8s.yaml")


def test_slurm_keys_are_slurmcluster_parameters() -> None:
    import dask_jobqueue as jobqueue
    cfg = dict(load_yaml(DEPLOY / "dask_slurm.yaml")["execution"]["config"]["cluster"]["slurm"])
    cfg.pop("n_workers")  # a cluster parameter; the rest configure each SLURM job
    script = jobqueue.SLURMCluster.job_cls(
        scheduler="tcp://10.0.0.7:8786", name="build_dask", **cfg
    ).job_script()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH -t 04:00:00" in script
    assert "#SBATCH --cpus-per-task=8" in script and "--nthreads 1" in script


def test_kube_pod_template_is_a_classic_kubecluster_template() -> None:
    import kubernetes
    cfg = load_yaml(DEPLOY / "dask_kubernetes.yaml")["execution"]["config"]["cluster"]["kube"]
    api = kubernetes.client.ApiClient()
    for key in ("pod_template", "scheduler_pod_template"):  # what make_pod_from_dict does
        pod = api._ApiClient__deserialize(cfg[key], "V1Pod")
        assert pod.spec.containers[0].image
    worker = api._ApiClient__deserialize(cfg["pod_template"], "V1Pod").spec
    assert worker.tolerations[0].key == GPU and worker.volumes[0].persistent_volume_claim


def test_k8s_schema_copy_matches_dagster_k8s(k8s_config: dict) -> None:
    import dagster_k8s as real
    from dagster_k8s.executor import _K8S_EXECUTOR_CONFIG_SCHEMA
    from dagster_k8s.job import USER_DEFINED_K8S_JOB_CONFIG_SCHEMA
    from dagster_k8s.launcher import K8sRunLauncher

    assert set(_K8S_EXECUTOR_CONFIG_SCHEMA) == set(K8S_EXECUTOR_SCHEMA)
    assert set(USER_DEFINED_K8S_JOB_CONFIG_SCHEMA.fields) == set(K8S_USER_CONFIG.fields)
    job = define_asset_job(
        "build_k8s_real", selection=BUILD_SELECTION,
        executor_def=real.k8s_job_executor,
    )
    resolved = Definitions(
        assets=ALL_ASSETS, asset_checks=ALL_CHECKS, jobs=[job], resources={"xdeg": XdegResource()}
    ).resolve_job_def("build_k8s_real")
    validate_run_config(resolved, k8s_config)
    from dagster._config import validate_config

    launcher = load_yaml(K8S / "dagster.yaml")["run_launcher"]
    result = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
