"""Jobs: build the graph, and find paths (with the pairs in run config)."""

from dagster import AssetSelection, define_asset_job

build_job = define_asset_job(
    "build",
    selection=AssetSelection.groups("ingest", "features", "graph"),
    description="Scan the collection and bring features, PCA, kNN edges and the graph up to date.",
)

find_paths = define_asset_job(
    "find_paths",
    selection=AssetSelection.assets("requested_paths"),
    description="Find chains between the pairs given in run config (ops.requested_paths.config).",
)
