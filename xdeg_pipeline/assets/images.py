"""raw_images: the manifest of the collection (and the images it rejects)."""

import time

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from xdeg_pipeline.assets.common import CODE_VERSION, layout, md_table, path_meta, progress
from xdeg_pipeline.core.atomic import build_lock, write_parquet
from xdeg_pipeline.core.images import scan_collection
from xdeg_pipeline.core.state import fingerprint_lines, write_state
from xdeg_pipeline.core.tables import replace_rejected
from xdeg_pipeline.resources import XdegResource


@asset(
    group_name="ingest",
    code_version=CODE_VERSION,
    kinds={"parquet"},
    automation_condition=AutomationCondition.on_missing(),
    description="Manifest of the collection: one row per image file, identified by content hash.",
)
def raw_images(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        root = xdeg.images_path()
        if not root.is_dir():
            raise FileNotFoundError(
                f"collection folder {root} does not exist: set XDEG_IMAGES or the resource's "
                "images_dir to a folder of images (or run `xdeg demo` for the default collection)"
            )
        previous = pd.read_parquet(files.raw_images) if files.raw_images.exists() else None
        t0 = time.perf_counter()
        scan = scan_collection(root, previous=previous, progress=progress(context, "scan"))
        seconds = time.perf_counter() - t0
        manifest = scan.manifest
        if manifest.empty:
            raise ValueError(f"no usable image in {root} ({len(scan.rejected)} rejected)")
        write_parquet(manifest, files.raw_images)
        rejected = replace_rejected(files.rejected_images, "scan", scan.rejected)
        version = fingerprint_lines(
            f"{n}\t{h}" for n, h in zip(manifest["name"], manifest["content_hash"])
        )
        write_state(files.home, "raw_images", {"output_fingerprint": version, "root": str(root)})
        for row in scan.rejected.itertuples(index=False):
            context.log.warning(f"rejected {row.name!r}: {row.reason} ({row.detail})")
        return MaterializeResult(
            data_version=DataVersion(version),
            metadata={
                "root": MetadataValue.path(str(root)),
                "path": path_meta(files.raw_images),
                "images": len(manifest),
                "unique_images": int(manifest["content_hash"].nunique()),
                "rejected": len(scan.rejected),
                "rejected_images": md_table(rejected),
                "seconds": round(seconds, 3),
            },
        )
