"""The executor of ``build_dask``, importing ``dagster_dask`` only when a run uses it.

``dagster_dask`` imports dask.dataframe and distributed at import time: a third of the time to
import the code location (12.6 of 36.4 s by ``python -X importtime -c "import
xdeg_pipeline.definitions"`` on the loaded 2-core box), paid by every ``dagster job
execute``, every run the daemon launches and every load of the code location, Dask or not
(``xdeg build`` does not import the jobs). This is dagster_dask's
``dask_executor`` with the same name, requirements and config schema (checked against it by
``xdeg_pipeline_tests/test_dask_executor.py``), whose creation imports the real one.
"""

from __future__ import annotations

from dagster import (
    Field,
    Permissive,
    Selector,
    StringSource,
    executor,
    multiple_process_executor_requirements,
)

CLUSTERS = ("local", "yarn", "ssh", "pbs", "moab", "sge", "lsf", "slurm", "oar", "kube")


@executor(
    name="dask",
    requirements=multiple_process_executor_requirements(),
    config_schema={"cluster": Field(Selector({
        "existing": Field({"address": StringSource}, description="Connect to an existing "
                          "scheduler."),
        **{kind: Field(Permissive(), is_required=False,
                       description=f"{kind} cluster configuration.") for kind in CLUSTERS},
    }))},
)
def dask_executor(init_context):
    """dagster_dask's Dask executor, imported now (see the module docstring)."""
    from dagster_dask.executor import dask_executor as real

    return real.executor_creation_fn(init_context)
