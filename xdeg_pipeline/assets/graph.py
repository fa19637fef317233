"""knn_edges (nmslib), image_outlines, similarity_graph (igraph, connected by construction) and
the near-duplicate groups of the graph."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from xdeg_pipeline.assets.common import FOLLOWS_UPSTREAM, materialized, pick, plain_faults, reporter
from xdeg_pipeline.assets.metadata import degree_histogram, example_strips
from xdeg_pipeline.core import params
from xdeg_pipeline.core.stages import graph, knn, outlines
from xdeg_pipeline.core.stages import near_duplicates as near
from xdeg_pipeline.resources import XdegResource


@asset(
    deps=["pca_features", "image_features"],
    group_name="graph",
    kinds={"nmslib", "parquet"},
    **FOLLOWS_UPSTREAM,
    description="k nearest neighbours of every image as an edge table (candidates in the PCA "
    "space: exact up to 8,000 images, nmslib HNSW above; the k nearest of them by the full "
    "features; updated, not rebuilt, for added images); source/target are row numbers of "
    "pca_features.",
)
@plain_faults
def knn_edges(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Find each image's k nearest neighbours: candidates in the PCA space, kept by the full
    features' distance."""
    settings = xdeg.settings()
    result = knn.knn_edges(settings, reporter(context, settings))
    return materialized(result, path=settings.layout.knn_edges,
                        **pick(result, "edges", "images", "mode", "rows_searched", "method",
                               "partitions", "engine", "rerank", "pairs_measured"),
                        k=settings.k,
                        space=params.KNN_SPACE)


@asset(
    deps=["thumbnails"],
    group_name="graph",
    kinds={"parquet"},
    **FOLLOWS_UPSTREAM,
    description="The outline of every image (where its edges lie, whatever their colours), "
    "drawn from its thumbnail once per content hash, so the graph can mark the steps between "
    "two colourings of one drawing (skin tones, palette swaps), which chains avoid.",
)
@plain_faults
def image_outlines(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Draw the outlines of new content."""
    settings = xdeg.settings()
    result = outlines.image_outlines(settings, reporter(context, settings))
    return materialized(result, path=settings.layout.image_outlines,
                        **pick(result, "images", "outlines", "without_outline", "made",
                               "reused"))


@asset(
    deps=["knn_edges", "raw_images", "image_outlines"],
    group_name="graph",
    kinds={"igraph", "pickle"},
    **FOLLOWS_UPSTREAM,
    description="Undirected similarity graph built in bulk from knn_edges, bridged so that "
    "every pair of images is connected; its hub load updated, not re-estimated, after a small "
    "change (mode: update or rebuild).",
)
@plain_faults
def similarity_graph(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Build the graph that chains are searched in."""
    settings = xdeg.settings()
    result = graph.similarity_graph(settings, reporter(context, settings))
    return materialized(
        result,
        path=settings.layout.similarity_graph,
        **pick(result, "vertices", "edges", "components", "degree_max", "exits",
               "recoloured_edges", "mode", "load_estimated"),
        degree_mean=round(result.state["degree_mean"], 2),
        degree_histogram=degree_histogram(result.state["degree_counts"],
                                          settings.layout.state_dir),
    )


@asset(
    deps=["similarity_graph"],
    group_name="graph",
    kinds={"parquet", "png"},
    **FOLLOWS_UPSTREAM,
    description="Groups of images closer than the near-duplicate distance (the distance a "
    "barely edited copy moves a picture), one row per image, with strips of the largest "
    "groups and of the largest recolour groups (one drawing in several colourings); path "
    "search never steps from an image to its near-duplicate or another colouring unless it "
    "must.",
)
@plain_faults
def near_duplicates(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Find the near-duplicate groups of the graph."""
    settings = xdeg.settings()
    result = near.near_duplicates(settings, reporter(context, settings))
    state = result.state
    return materialized(
        result,
        path=settings.layout.near_duplicates,
        **pick(result, "groups", "images_in_groups", "largest_group", "images"),
        near_duplicate_distance=round(state.get("near_duplicate_distance", 0.0), 4),
        natural_step=round(state.get("natural_step", 0.0), 4),
        recolour_groups=state.get("recolour_groups", 0),
        **example_strips(state.get("examples", []), prefix="group"),
        **example_strips(state.get("recolour_examples", []), prefix="colourings"),
    )
