"""thumbnails (a WebP per content hash, atlases) and collection_map (the 2-D t-SNE map)."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from xdeg_pipeline.assets.common import FOLLOWS_UPSTREAM, materialized, pick, plain_faults, reporter
from xdeg_pipeline.core.pictures.render import strip_markdown
from xdeg_pipeline.core.stages import collection_map as map_stage
from xdeg_pipeline.core.stages import thumbnails as thumbnail_stage
from xdeg_pipeline.resources import XdegResource


@asset(deps=["raw_images"], group_name="map", kinds={"webp"}, **FOLLOWS_UPSTREAM,
       description="A small WebP per image, made once per content hash, packed into atlas "
       "sheets for the map (only new content is processed).")
@plain_faults
def thumbnails(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Make the thumbnails of new content and redraw the atlas sheets that changed."""
    settings = xdeg.settings()
    result = thumbnail_stage.thumbnails(settings, reporter(context, settings))
    return materialized(result, path=settings.layout.thumbnails_dir,
                        **pick(result, "images", "made", "made_by_features", "reused", "sheets",
                               "sheets_drawn", "without_thumbnail"))


@asset(deps=["pca_features", "thumbnails"], group_name="map", kinds={"parquet", "png"},
       **FOLLOWS_UPSTREAM,
       description="Every image at a 2-D position (openTSNE t-SNE of the PCA features; new "
       "images are placed without moving the others), and the map as a picture.")
@plain_faults
def collection_map(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Lay out the collection, or place its new images into the stored map."""
    settings = xdeg.settings()
    files = settings.layout
    result = map_stage.collection_map(settings, reporter(context, settings))
    picture = MetadataValue.md(strip_markdown(files.collection_map_png))  # downscaled if big
    return materialized(result, path=files.collection_map, picture=files.collection_map_png,
                        **pick(result, "images", "mode", "placed", "kept", "layout_seconds",
                                    "picture_drawn"),
                        map=picture)
