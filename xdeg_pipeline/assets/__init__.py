"""Dagster assets of xdeg, one module per domain."""

from xdeg_pipeline.assets.features import image_features, pca_features
from xdeg_pipeline.assets.graph import (
    image_outlines,
    knn_edges,
    near_duplicates,
    similarity_graph,
)
from xdeg_pipeline.assets.images import raw_images
from xdeg_pipeline.assets.maps import collection_map, thumbnails
from xdeg_pipeline.assets.paths import requested_paths

BUILD_ASSETS = [raw_images, image_features, pca_features, knn_edges, thumbnails, image_outlines,
                similarity_graph, near_duplicates, collection_map]
ALL_ASSETS = [*BUILD_ASSETS, requested_paths]
