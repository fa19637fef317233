"""raw_images: the manifest of the collection (and the images it rejects)."""

from dagster import AssetExecutionContext, AutomationCondition, MaterializeResult, asset

from xdeg_pipeline.assets.common import CODE_VERSION, materialized, pick, plain_faults, reporter
from xdeg_pipeline.core.stages import ingest
from xdeg_pipeline.resources import XdegResource


@asset(
    group_name="ingest",
    code_version=CODE_VERSION,
    kinds={"parquet"},
    automation_condition=AutomationCondition.on_missing(),
    description="Manifest of the collection: one row per image file, identified by content hash.",
)
@plain_faults
def raw_images(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Scan the collection folder (downloading a URL manifest into it first): every readable
    image becomes a row, every other file a row of rejected_images with the reason."""
    settings = xdeg.settings()
    result = ingest.raw_images(settings, reporter(context, settings))
    download = ("manifest", "downloaded", "cached", "download_failed", "downloaded_mb",
                "download_seconds", "iiif_manifests", "iiif_canvases", "iiif_problems",
                "iiif_documents_fetched", "iiif_documents_not_modified")
    return materialized(
        result,
        root=settings.images_root,
        path=settings.layout.raw_images,
        **pick(result, "images", "unique_images", "rejected"),
        rejected_images=result.facts["rejected_table"],
        **pick(result, *download),
    )
