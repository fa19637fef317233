"""deploy/'s files and a copy of dagster-k8s's executor schema (dagster-k8s is not a dependency).

Used by the suite's deploy tests and by ``deploy/test_with_extras.py``, which compares the copy
with the real schema where dagster-k8s is installed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import (
    Array,
    Enum,
    EnumValue,
    Field,
    IntSource,
    Map,
    Noneable,
    Permissive,
    Shape,
    StringSource,
    executor,
    in_process_executor,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
GPU = "nvidia.com/gpu"


def load_yaml(path: Path) -> dict:
    """A deploy YAML file as a dict (fails on an empty or non-mapping file)."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and data, path
    return data


# --- a copy of dagster-k8s 0.29.27's schemas (dagster_k8s/job.py, dagster_k8s/executor.py) --------
K8S_USER_CONFIG = Shape(
    {
        "container_config": Permissive(),
        "pod_template_spec_metadata": Permissive(),
        "pod_spec_config": Permissive(),
        "job_config": Permissive(),
        "job_metadata": Permissive(),
        "job_spec_config": Permissive(),
        "merge_behavior": Field(
            Enum("K8sConfigMergeBehavior", [EnumValue("SHALLOW"), EnumValue("DEEP")]),
            is_required=False,
        ),
    }
)
K8S_EXECUTOR_SCHEMA = {
    "job_image": Field(Noneable(StringSource), is_required=False),
    "image_pull_policy": Field(Noneable(StringSource), is_required=False),
    "image_pull_secrets": Field(Noneable(Array(Shape({"name": StringSource}))), is_required=False),
    "service_account_name": Field(Noneable(StringSource), is_required=False),
    "env_config_maps": Field(Noneable(Array(StringSource)), is_required=False),
    "env_secrets": Field(Noneable(Array(StringSource)), is_required=False),
    "env_vars": Field(Noneable(Array(str)), is_required=False),
    "volume_mounts": Field(Array(Permissive({"name": StringSource})), is_required=False),
    "volumes": Field(Array(Permissive({"name": str})), is_required=False),
    "labels": Field(dict, is_required=False),
    "resources": Field(
        Noneable({"limits": Field(dict, is_required=False),
                  "requests": Field(dict, is_required=False)}),
        is_required=False,
    ),
    "scheduler_name": Field(Noneable(StringSource), is_required=False),
    "security_context": Field(dict, is_required=False),
    "load_incluster_config": Field(bool, is_required=False),
    "kubeconfig_file": Field(Noneable(str), is_required=False),
    "job_namespace": Field(StringSource, is_required=False),
    "retries": Field(Permissive(), is_required=False),
    "max_concurrent": Field(IntSource, is_required=False),
    "tag_concurrency_limits": Field(Noneable(Array(Permissive())), is_required=False),
    "step_dependency_config": Field(
        Shape({"require_upstream_step_success": Field(bool, is_required=False)}),
        is_required=False,
    ),
    "enable_owner_references": Field(bool, is_required=False),
    "step_k8s_config": Field(K8S_USER_CONFIG, is_required=False),
    "per_step_k8s_config": Field(
        Map(str, K8S_USER_CONFIG, key_label_name="step_name"), is_required=False, default_value={}
    ),
}


@executor(name="k8s", config_schema=K8S_EXECUTOR_SCHEMA)
def k8s_executor_copy(init_context):
    """Stands in for dagster_k8s.k8s_job_executor: its config schema, in-process execution."""
    return in_process_executor.executor_creation_fn(init_context)
