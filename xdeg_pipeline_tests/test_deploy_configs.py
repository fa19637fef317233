"""The shipped deployment configuration (deploy/) parses and fits the schemas it is written for.

* Every YAML under deploy/ parses.
* The Dask run configs validate against the ``build_dask`` job's run config schema (dagster-dask's
  ``existing`` cluster is typed; ``kube`` and ``slurm`` are permissive dicts there, so their keys
  are checked against dask-kubernetes's classic pod template and dask-jobqueue's SLURM job script
  as far as the installed packages allow).
* The Kubernetes executor config (deploy/k8s/executor_k8s.yaml) validates against a copy of
  dagster-k8s's ``k8s_job_executor`` schema (dagster-k8s is not a dependency); where dagster-k8s
  is installed the copy is compared with the real schema and the config validated against it.
* deploy/k8s/definitions_k8s.py fails with an actionable message without dagster-k8s, and with
  an executor stand-in it builds the code location with the GPU step settings.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types

import pytest
from dagster import Definitions, define_asset_job, validate_run_config

from xdeg_pipeline.assets import ALL_ASSETS
from xdeg_pipeline.checks import ALL_CHECKS
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.jobs import BUILD_SELECTION
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.deploy import (
    DEPLOY,
    GPU,
    K8S,
    K8S_USER_CONFIG,
    k8s_executor_copy,
    load_yaml,
)


def _real_dagster_k8s():
    try:
        import dagster_k8s
    except ImportError:
        return None
    return dagster_k8s


# --- every file ---------------------------------------------------------------------------------
def test_every_deploy_yaml_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    names = {p.relative_to(DEPLOY).as_posix() for p in files}
    assert {"dask_local.yaml", "dask_kubernetes.yaml", "dask_slurm.yaml", "k8s/executor_k8s.yaml",
            "k8s/dagster.yaml", "k8s/values.yaml", "k8s/daskcluster.yaml"} <= names
    for path in files:
        load_yaml(path)


# --- Dask ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_dask():
    return defs.resolve_job_def("build_dask")


def test_dask_local_validates_against_build_dask(build_dask) -> None:
    config = load_yaml(DEPLOY / "dask_local.yaml")
    config["execution"]["config"]["cluster"]["existing"]["address"] = "tcp://10.0.0.7:8786"
    validate_run_config(build_dask, config)  # raises DagsterInvalidConfigError when wrong
    assert set(config["execution"]["config"]["cluster"]) == {"existing"}


def test_dask_cluster_configs_validate_and_ask_for_gpus(build_dask) -> None:
    kube = load_yaml(DEPLOY / "dask_kubernetes.yaml")
    slurm = load_yaml(DEPLOY / "dask_slurm.yaml")
    for config in (kube, slurm):
        validate_run_config(build_dask, config)
    kube_cfg = kube["execution"]["config"]["cluster"]["kube"]
    worker = kube_cfg["pod_template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"][GPU] == 1
    assert worker["args"][:2] == ["dask", "worker"] and "--nthreads" in worker["args"]
    assert worker["args"][worker["args"].index("--nthreads") + 1] == "1"
    slurm_cfg = slurm["execution"]["config"]["cluster"]["slurm"]
    assert any("gpu" in d for d in slurm_cfg["job_extra_directives"])
    assert {"cores", "memory", "walltime", "processes"} <= set(slurm_cfg)


# --- Kubernetes executor ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def k8s_config() -> dict:
    return load_yaml(K8S / "executor_k8s.yaml")


def _gpu_step(step: dict) -> None:
    resources = step["container_config"]["resources"]
    assert resources["limits"][GPU] == 1 and resources["requests"][GPU] == 1
    pod = step["pod_spec_config"]
    assert pod["node_selector"] and any(t["key"] == GPU for t in pod["tolerations"])


def test_k8s_executor_config_fits_the_k8s_job_executor_schema(k8s_config: dict) -> None:
    job = define_asset_job(
        "build_k8s_check", selection=BUILD_SELECTION,
        executor_def=k8s_executor_copy,
    )
    resolved = Definitions(
        assets=ALL_ASSETS, asset_checks=ALL_CHECKS, jobs=[job], resources={"xdeg": XdegResource()}
    ).resolve_job_def("build_k8s_check")
    validate_run_config(resolved, k8s_config)
    per_step = k8s_config["execution"]["config"]["per_step_k8s_config"]
    ops = {node.name for node in resolved.graph.nodes}
    assert set(per_step) <= ops, set(per_step) - ops  # keys are op names of the build
    _gpu_step(per_step["image_features"])
    # The same dict as an op tag: tags are stored as JSON and validated with this schema.
    tag = json.loads(json.dumps({"dagster-k8s/config": per_step["image_features"]}))
    assert set(tag["dagster-k8s/config"]) <= set(K8S_USER_CONFIG.fields)
    step = k8s_config["execution"]["config"]["step_k8s_config"]["container_config"]
    assert GPU not in step["resources"]["limits"]  # only the extraction step asks for a GPU


def test_instance_and_helm_values_point_at_the_code_location() -> None:
    instance = load_yaml(K8S / "dagster.yaml")
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s.launcher", "K8sRunLauncher")
    assert launcher["config"]["instance_config_map"] and "postgres" in instance["storage"]
    values = load_yaml(K8S / "values.yaml")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    grpc_file = deployment["dagsterApiGrpcArgs"][deployment["dagsterApiGrpcArgs"].index(
        "--python-file") + 1]
    dockerfile = (K8S / "Dockerfile").read_text()
    assert "WORKDIR /opt/xdeg" in dockerfile and grpc_file == "/opt/xdeg/definitions_k8s.py"
    assert "COPY deploy/k8s/definitions_k8s.py deploy/k8s/executor_k8s.yaml ./" in dockerfile
    assert "pip install torch==2.14.1 torchvision==0.29.1" in dockerfile
    assert "RUN pip install . " in dockerfile
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    home = load_yaml(K8S / "executor_k8s.yaml")["resources"]["xdeg"]["config"]["home"]
    assert any(home.startswith(m + "/") for m in mounts)  # outputs land on the shared volume


# --- definitions_k8s.py -------------------------------------------------------------------------
def _import_definitions_k8s():
    spec = importlib.util.spec_from_file_location(
        "xdeg_definitions_k8s", K8S / "definitions_k8s.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_definitions_k8s_needs_dagster_k8s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # import fails as when not installed
    with pytest.raises(ImportError, match="pip install dagster-k8s==0.29.27"):
        _import_definitions_k8s()


@pytest.mark.parametrize("per_shard", ["0", "1"])
def test_definitions_k8s_builds_the_code_location(
    monkeypatch: pytest.MonkeyPatch, per_shard: str
) -> None:
    stub = types.ModuleType("dagster_k8s")
    stub.k8s_job_executor = k8s_executor_copy
    monkeypatch.setitem(sys.modules, "dagster_k8s", stub)
    monkeypatch.setenv("XDEG_K8S_RUN_PER_SHARD", per_shard)
    module = _import_definitions_k8s()
    _gpu_step(module.GPU_STEP_K8S_CONFIG)
    build = module.defs.resolve_job_def("build")
    assert build.executor_def.name == "k8s_xdeg"
    validate_run_config(build, {})  # the configured executor config against the schema copy
    assert module.defs.resolve_job_def("find_paths").executor_def.name == "k8s_xdeg"
    # Built from the main location: the same jobs, sensors, schedules, assets and checks; jobs
    # with their own executor keep it.
    main, k8s = defs.get_repository_def(), module.defs.get_repository_def()
    for names in (
        lambda r: {j.name for j in r.get_all_jobs()},
        lambda r: {s.name for s in r.sensor_defs},
        lambda r: {s.name for s in r.schedule_defs},
        lambda r: set(r.asset_graph.get_all_asset_keys()),
        lambda r: set(r.asset_graph.asset_check_keys),
    ):
        assert names(k8s) == names(main) and names(main)
    for job in ("build_dask", "build_multiprocess"):
        assert (module.defs.resolve_job_def(job).executor_def.name
                == defs.resolve_job_def(job).executor_def.name != "k8s_xdeg")
    graph = module.defs.get_repository_def().asset_graph
    policy = graph.get(next(k for k in graph.get_all_asset_keys()
                            if k.to_user_string() == "image_features")).backfill_policy
    assert policy.max_partitions_per_run == (1 if per_shard == "1" else None)
