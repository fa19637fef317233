"""raw_images: the manifest of the collection (downloaded first from a URL manifest or a IIIF
collection), and the images it rejects."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.images.scan import scan_collection
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.sources import iiif, remote
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.faults import DataFolderFault
from xdeg_pipeline.core.storage.state import fingerprint_lines
from xdeg_pipeline.core.storage.tables import replace_rejected

NAME = "raw_images"


def raw_images(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Scan the collection (always: its fingerprint is its content, names and hashes)."""
    report = report or Reporter()
    stage = Stage(NAME, partial(_scan, settings, report), always=True)
    return run_stage(stage, settings.layout, report)


def _scan(settings: Settings, report: Reporter, inputs: StageInputs) -> Outcome:
    files, root = inputs.layout, settings.images_root
    problems, collection = pd.DataFrame(columns=["name"]), None
    if settings.iiif is not None:
        collection = download_collection(settings, report)
        fetched, problems = collection.download, collection.problems
    else:
        fetched = download_manifest(settings, report) if settings.manifest is not None else None
    if fetched is None:
        files.image_metadata.unlink(missing_ok=True)
    if not root.is_dir():
        raise FileNotFoundError(
            f"collection folder {root} does not exist: set XDEG_IMAGES or the resource's "
            "images_dir to a folder of images (or run `xdeg demo` for the default collection)"
        )
    previous = pd.read_parquet(files.raw_images) if files.raw_images.exists() else None
    scan = scan_collection(root, previous=previous, progress=report.progress("scan"))
    if not root.is_dir():
        raise DataFolderFault(f"the collection folder {root} vanished while it was scanned; "
                              "reconnect or restore it, then run `xdeg build` again")
    manifest = scan.manifest
    failed = fetched.rejected if fetched is not None else pd.DataFrame(columns=["name"])
    replace_rejected(files.rejected_images, "iiif", problems)
    replace_rejected(files.rejected_images, "download", failed)
    rejected = replace_rejected(files.rejected_images, "scan", scan.rejected)
    if manifest.empty:
        raise ValueError(
            f"no usable image in {root} ({len(scan.rejected)} rejected, see "
            f"{files.rejected_images})"
        )
    for row in scan.rejected.itertuples(index=False):
        report.warn(f"rejected {row.name!r}: {row.reason} ({row.detail})")
    writes: dict = {}
    if fetched is not None:
        manifest = _with_sources(manifest, fetched.rows, root)
        writes[files.image_metadata] = partial(remote.write_metadata, fetched.metadata)
    writes[files.raw_images] = manifest
    version = fingerprint_lines(
        f"{n}\t{h}" for n, h in zip(manifest["name"], manifest["content_hash"])
    )
    state = {"root": str(root), "openmoji": settings.openmoji, "images": len(manifest),
             "unique_images": int(manifest["content_hash"].nunique())}
    facts = {"rejected": len(scan.rejected) + len(failed) + len(problems),
             "rejected_table": rejected}
    if fetched is not None:
        facts.update(_download_facts(settings.manifest or settings.iiif, fetched))
    if collection is not None:
        facts.update(iiif_problems=len(problems), iiif_manifests=collection.walk.manifests,
                     iiif_canvases=collection.walk.canvases,
                     iiif_documents_fetched=collection.documents_fetched,
                     iiif_documents_not_modified=collection.documents_not_modified)
    return Outcome(state=state, writes=writes, output_fingerprint=version, facts=facts)


def download_manifest(settings: Settings, report: Reporter) -> remote.DownloadResult:
    """Fetch every URL of the manifest and lay the images out under their names."""
    files = settings.layout
    table = remote.load_manifest_table(settings.manifest)
    url_column = remote.find_url_column(table, settings.url_column)
    report.info(f"manifest {settings.manifest}: {len(table)} rows, URLs in {url_column!r}")
    fetched = remote.download_all(
        table,
        url_column,
        files.download_cache,
        files.download_failures,
        progress=report.progress("download"),
        log=report.info,
        **settings.download_options(),
    )
    _place(fetched, settings, report)
    return fetched


def download_collection(settings: Settings, report: Reporter) -> iiif.IIIFResult:
    """Read the IIIF source, fetch one image per canvas kept and lay them out under their
    names: the download and the problems of the walk (unreadable documents, canvases without
    image). An unreadable source itself is an error of one line."""
    files = settings.layout
    try:
        result = iiif.download_iiif(
            settings.iiif, files.download_cache, files.download_failures, files.iiif_documents,
            progress=report.progress("download"), log=report.info, **settings.iiif_options())
    except iiif.DocumentError as exc:
        raise ValueError(f"IIIF source {settings.iiif} cannot be read: {exc}") from None
    for row in result.problems.itertuples(index=False):
        report.warn(f"iiif: {row.name!r}: {row.reason} ({row.detail})")
    _place(result.download, settings, report)
    return result


def _place(fetched: remote.DownloadResult, settings: Settings, report: Reporter) -> None:
    """Report the failed rows, put the images in the downloaded-images folder."""
    for row in fetched.rejected.itertuples(index=False):
        report.warn(f"download failed {row.name!r}: {row.reason} ({row.detail})")
    names = dict(zip(fetched.rows["name"], map(Path, fetched.rows["local_path"])))
    remote.sync_collection(names, settings.layout.downloaded_images)


def _download_facts(manifest: Path | str, fetched: remote.DownloadResult) -> dict:
    return {
        "manifest": manifest,
        "downloaded": fetched.downloaded,
        "cached": fetched.cached,
        "download_failed": fetched.failed,
        "downloaded_mb": round(fetched.bytes_downloaded / 2**20, 2),
        "download_seconds": round(fetched.seconds, 3),
    }


def _with_sources(manifest: pd.DataFrame, rows: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Add ``url`` and ``path`` (the image file, absolute) to the scanned manifest."""
    url_of = dict(zip(rows["name"], rows["url"]))
    manifest = manifest.copy()
    manifest["url"] = [url_of.get(n, "") for n in manifest["name"]]
    manifest["path"] = [str(root / n) for n in manifest["name"]]
    return manifest
