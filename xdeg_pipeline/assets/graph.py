"""knn_edges (nmslib) and similarity_graph (igraph, connected by construction)."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from xdeg_pipeline.assets.common import FOLLOWS_UPSTREAM, materialized, pick, reporter
from xdeg_pipeline.assets.metadata import degree_histogram
from xdeg_pipeline.core import params
from xdeg_pipeline.core.stages import graph, knn
from xdeg_pipeline.resources import XdegResource


@asset(
    deps=["pca_features"],
    group_name="graph",
    kinds={"nmslib", "parquet"},
    **FOLLOWS_UPSTREAM,
    description="k nearest neighbours of every image as an edge table (exact up to 8,000 "
    "images, nmslib HNSW above; updated, not rebuilt, for added images); source/target are "
    "row numbers of pca_features.",
)
def knn_edges(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Find each image's k nearest neighbours in the PCA space."""
    settings = xdeg.settings()
    result = knn.knn_edges(settings, reporter(context, settings))
    return materialized(result, path=settings.layout.knn_edges,
                        **pick(result, "edges", "images", "mode", "rows_searched"), k=settings.k,
                        space=params.KNN_SPACE)


@asset(
    deps=["knn_edges", "raw_images"],
    group_name="graph",
    kinds={"igraph", "pickle"},
    **FOLLOWS_UPSTREAM,
    description="Undirected similarity graph built in bulk from knn_edges, bridged so that "
    "every pair of images is connected.",
)
def similarity_graph(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Build the graph that chains are searched in."""
    settings = xdeg.settings()
    result = graph.similarity_graph(settings, reporter(context, settings))
    return materialized(
        result,
        path=settings.layout.similarity_graph,
        **pick(result, "vertices", "edges", "components", "degree_max"),
        degree_mean=round(result.state["degree_mean"], 2),
        degree_histogram=degree_histogram(result.state["degree_counts"],
                                          settings.layout.state_dir),
    )
