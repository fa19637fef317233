"""Jobs: build the graph (in process, or on a Dask cluster), and find paths. The build jobs are
partitioned like image_features (Dagster infers it from the selection)."""

from dagster import AssetSelection, define_asset_job, multiprocess_executor
from dagster_dask import dask_executor

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
