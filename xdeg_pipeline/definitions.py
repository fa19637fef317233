"""The Dagster code location of xdeg (loaded by workspace.yaml and the CLI)."""

from xdeg_pipeline.core.collector import importing

with importing():  # every process that loads the code location (core/collector.py)
    from dagster import Definitions

    from xdeg_pipeline.assets import ALL_ASSETS
    from xdeg_pipeline.checks import ALL_CHECKS
    from xdeg_pipeline.jobs import (
        DEFAULT_EXECUTOR,
        build_dask,
        build_job,
        build_multiprocess,
        find_paths,
        verify_data_folder,
    )
    from xdeg_pipeline.resources import XdegResource
    from xdeg_pipeline.schedules import refresh_schedule
    from xdeg_pipeline.sensors import automation_sensor, collection_sensor

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[build_job, build_multiprocess, build_dask, find_paths, verify_data_folder],
    schedules=[refresh_schedule],
    sensors=[collection_sensor, automation_sensor],
    resources={"xdeg": XdegResource.from_env()},  # launchpad shows each $XDEG_* source
    executor=DEFAULT_EXECUTOR,  # build and find_paths: every step in the run's process
)


def build_dask_job():
    """The ``build_dask`` job, for ``reconstructable()`` (executors that run steps elsewhere)."""
    return defs.resolve_job_def("build_dask")


def build_multiprocess_job():
    """The ``build_multiprocess`` job, for ``reconstructable()``."""
    return defs.resolve_job_def("build_multiprocess")
