"""A sensor that notices images added to or removed from the collection."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from xdeg_pipeline.core.images.scan import IMAGE_EXTENSIONS
from xdeg_pipeline.core.storage.state import fingerprint_lines
from xdeg_pipeline.jobs import build_job
from xdeg_pipeline.partitions import all_shards_tags
from xdeg_pipeline.resources import XdegResource


def collection_signature(root: Path) -> tuple[str, int]:
    """A cheap signature of a folder: names, sizes and mtimes of its image files (no reads)."""
    entries: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith(".") or os.path.splitext(fn)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            path = os.path.join(dirpath, fn)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            entries.append(f"{os.path.relpath(path, root)!r}\t{st.st_size}\t{st.st_mtime_ns}")
    entries.sort()
    return fingerprint_lines(entries), len(entries)


@sensor(
    job=build_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests a build when image files are added to, changed in or removed from "
    "the collection folder, or when its URL manifest or IIIF collection changes.",
)
def collection_sensor(context: SensorEvaluationContext, xdeg: XdegResource):
    """A build request when the collection's signature differs from the cursor's."""
    settings = xdeg.settings()
    root, manifest = settings.images_root, settings.manifest
    if settings.iiif is not None:
        return _iiif_request(context, settings.iiif)
    if manifest is None and not root.is_dir():
        return SkipReason(f"collection folder {root} does not exist")
    signature, count = collection_signature(root) if root.is_dir() else ("", 0)
    watched = root
    if manifest is not None:  # a URL manifest: new rows change the file, not the folder
        try:
            st = manifest.stat()
        except OSError:
            return SkipReason(f"manifest {manifest} does not exist")
        signature = fingerprint_lines([signature, f"{manifest}\t{st.st_size}\t{st.st_mtime_ns}"])
        watched = manifest
    if signature == context.cursor:
        return SkipReason(f"no change in {watched} ({count} image files)")
    context.update_cursor(signature)
    return RunRequest(
        run_key=signature, tags={"xdeg/images": str(count), **all_shards_tags()}
    )


def _iiif_request(context: SensorEvaluationContext, source: str) -> RunRequest | SkipReason:
    """A build request when the IIIF source's collections (not its manifests: too many to
    read every minute) differ from the cursor's: a manifest added, removed or relabelled."""
    from xdeg_pipeline.core.sources import iiif

    try:
        signature, count = iiif.collection_signature(source)
    except iiif.DocumentError as exc:
        return SkipReason(f"IIIF source {source} cannot be read: {exc}")
    if signature == context.cursor:
        return SkipReason(f"no change in {source} ({count} manifests)")
    context.update_cursor(signature)
    return RunRequest(run_key=signature,
                      tags={"xdeg/manifests": str(count), **all_shards_tags()})


automation_sensor = AutomationConditionSensorDefinition(
    "xdeg_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=30,
    description="Declarative automation: materialises each asset whose automation condition "
    "(eager: an upstream asset was updated) is met, e.g. pca_features -> ... -> "
    "similarity_graph after image_features. Switch it on in Automation.",
)
