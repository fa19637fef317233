"""Jobs: build the graph (in process, one process per step, or on a Dask cluster), find paths,
and verify the data folder. The build jobs are partitioned like image_features (Dagster infers
it from the selection).

``build`` and ``find_paths``, the jobs the UI, the sensor and the schedule launch, name no
executor: they take the code location's default, ``in_process_executor``
(:data:`DEFAULT_EXECUTOR`, set in ``definitions.py``; the Kubernetes location sets its own), so
every step runs in the run's own process: a step process would import dagster, torch
and pandas again for each of the ~10 steps, which cost more than the steps themselves on a
small change (see the README's figures). ``build_multiprocess`` and ``build_dask`` stay for
those who want steps in parallel or on a cluster."""

from dagster import (
    AssetSelection,
    Failure,
    MetadataValue,
    OpExecutionContext,
    define_asset_job,
    in_process_executor,
    job,
    multiprocess_executor,
    op,
)

from xdeg_pipeline.core.stages.verify import verify
from xdeg_pipeline.core.storage.integrity import relative
from xdeg_pipeline.dask_executor import dask_executor  # dagster_dask only when a run uses it
from xdeg_pipeline.resources import XdegResource

DEFAULT_EXECUTOR = in_process_executor
BUILD_SELECTION = AssetSelection.groups("ingest", "features", "graph", "map")

build_job = define_asset_job(
    "build",
    selection=BUILD_SELECTION,
    description="Scan the collection and bring features, PCA, kNN edges, the graph, the "
    "thumbnails and the map up to date.",
)

build_multiprocess = define_asset_job(
    "build_multiprocess",
    selection=BUILD_SELECTION,
    executor_def=multiprocess_executor,
    description="The build, one process per step (checks run in parallel with later stages).",
)

build_dask = define_asset_job(
    "build_dask",
    selection=BUILD_SELECTION,
    executor_def=dask_executor,
    description="The build on a Dask cluster: every step is a Dask task, and image_features fans "
    "its shards out over the cluster's workers. Run config: deploy/dask_*.yaml "
    "(execution.config.cluster.existing.address = the scheduler).",
)

find_paths = define_asset_job(
    "find_paths",
    selection=AssetSelection.assets("requested_paths"),
    description="Find chains between the pairs given in run config (ops.requested_paths.config).",
)


@op(description="Read every output and feature-cache file against the hash recorded when it "
    "was written; fails, naming each damaged file, when one does not match.")
def verify_outputs(context: OpExecutionContext, xdeg: XdegResource) -> None:
    """``xdeg verify`` as a step: bit rot that keeps size and time is found here."""
    home = xdeg.settings().home
    found = verify(home)
    lines = [f"{relative(home, f.path)} ({f.owner}): {f.reason}" for f in found.damaged]
    for line in lines:
        context.log.error(f"damaged: {line}")
    summary = (f"verified {found.files} files ({found.bytes / 2**20:.1f} MiB) in "
               f"{found.seconds:.2f} s: {len(lines)} damaged")
    context.log.info(summary)
    if lines:
        raise Failure(description=f"{summary}; `xdeg verify --repair` rebuilds them",
                      metadata={"damaged": MetadataValue.md("\n".join(f"- `{x}`" for x in lines))})


@job(description="Verify the data folder: every recorded output and cache file read against "
     "its hash (`xdeg verify`).")
def verify_data_folder() -> None:
    verify_outputs()
