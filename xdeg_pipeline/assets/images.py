"""raw_images: the manifest of the collection (and the images it rejects)."""

import os
import time
from pathlib import Path

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
from xdeg_pipeline.core import remote
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
        t0 = time.perf_counter()
        manifest_file = xdeg.manifest_path()
        fetched = _download(context, xdeg, manifest_file) if manifest_file else None
        if fetched is None:
            (files.home / "image_metadata.parquet").unlink(missing_ok=True)
        if not root.is_dir():
            raise FileNotFoundError(
                f"collection folder {root} does not exist: set XDEG_IMAGES or the resource's "
                "images_dir to a folder of images (or run `xdeg demo` for the default collection)"
            )
        previous = pd.read_parquet(files.raw_images) if files.raw_images.exists() else None
        scan = scan_collection(root, previous=previous, progress=progress(context, "scan"))
        seconds = time.perf_counter() - t0
        manifest = scan.manifest
        if fetched is not None:
            manifest = _with_sources(manifest, fetched.rows, root)
            remote.write_metadata(fetched.metadata, files.home / "image_metadata.parquet")
        replace_rejected(
            files.rejected_images,
            "download",
            fetched.rejected if fetched is not None else pd.DataFrame(columns=["name"]),
        )
        rejected = replace_rejected(files.rejected_images, "scan", scan.rejected)
        if manifest.empty:
            raise ValueError(
                f"no usable image in {root} ({len(scan.rejected)} rejected, see "
                f"{files.rejected_images})"
            )
        write_parquet(manifest, files.raw_images)
        version = fingerprint_lines(
            f"{n}\t{h}" for n, h in zip(manifest["name"], manifest["content_hash"])
        )
        write_state(files.home, "raw_images", {"output_fingerprint": version, "root": str(root)})
        for row in scan.rejected.itertuples(index=False):
            context.log.warning(f"rejected {row.name!r}: {row.reason} ({row.detail})")
        metadata = {
            "root": MetadataValue.path(str(root)),
            "path": path_meta(files.raw_images),
            "images": len(manifest),
            "unique_images": int(manifest["content_hash"].nunique()),
            "rejected": len(scan.rejected) + (len(fetched.rejected) if fetched else 0),
            "rejected_images": md_table(rejected),
            "seconds": round(seconds, 3),
        }
        if fetched is not None:
            metadata.update({
                "manifest": MetadataValue.path(str(manifest_file)),
                "downloaded": fetched.downloaded,
                "cached": fetched.cached,
                "download_failed": fetched.failed,
                "downloaded_mb": round(fetched.bytes_downloaded / 2**20, 2),
                "download_seconds": round(fetched.seconds, 3),
            })
        return MaterializeResult(data_version=DataVersion(version), metadata=metadata)


def _download(
    context: AssetExecutionContext, xdeg: XdegResource, manifest_file: Path
) -> remote.DownloadResult:
    """Fetch every URL of the manifest and lay the images out under their names."""
    downloads = xdeg.home_path() / "downloads"
    table = remote.load_manifest_table(manifest_file)
    url_column = remote.find_url_column(table, xdeg.url_column_name())
    context.log.info(f"manifest {manifest_file}: {len(table)} rows, URLs in {url_column!r}")
    fetched = remote.download_all(
        table,
        url_column,
        downloads / "cache",
        downloads / "cache" / "failures.json",
        progress=progress(context, "download"),
        log=context.log.info,
        **_download_options(),
    )
    for row in fetched.rejected.itertuples(index=False):
        context.log.warning(f"download failed {row.name!r}: {row.reason} ({row.detail})")
    names = dict(zip(fetched.rows["name"], map(Path, fetched.rows["local_path"])))
    remote.sync_collection(names, downloads / "images")
    return fetched


def _download_options() -> dict:
    """``download_all`` keyword arguments from ``XDEG_DOWNLOAD_*`` variables (when set):
    WORKERS, TIMEOUT (s), TOTAL_TIMEOUT (s), MAX_MB, RETRIES, RETRY_HOURS."""
    env = os.environ
    out: dict = {}
    for var, key, cast in (
        ("XDEG_DOWNLOAD_WORKERS", "workers", int),
        ("XDEG_DOWNLOAD_TIMEOUT", "timeout", float),
        ("XDEG_DOWNLOAD_TOTAL_TIMEOUT", "total_timeout", float),
        ("XDEG_DOWNLOAD_RETRIES", "retries", int),
    ):
        if env.get(var):
            out[key] = cast(env[var])
    if env.get("XDEG_DOWNLOAD_MAX_MB"):
        out["max_bytes"] = int(float(env["XDEG_DOWNLOAD_MAX_MB"]) * 2**20)
    if env.get("XDEG_DOWNLOAD_RETRY_HOURS"):
        out["retry_failed_after"] = float(env["XDEG_DOWNLOAD_RETRY_HOURS"]) * 3600.0
    return out


def _with_sources(manifest: pd.DataFrame, rows: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Add ``url`` and ``path`` (the image file, absolute) to the scanned manifest."""
    url_of = dict(zip(rows["name"], rows["url"]))
    manifest = manifest.copy()
    manifest["url"] = [url_of.get(n, "") for n in manifest["name"]]
    manifest["path"] = [str(root / n) for n in manifest["name"]]
    return manifest
