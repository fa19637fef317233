"""knn_edges: the k nearest neighbours of every image (nmslib HNSW) as an edge table."""

from __future__ import annotations

from functools import partial

from xdeg_pipeline.core import params
from xdeg_pipeline.core.knn import knn_edges as compute_knn_edges
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.tables import read_feature_table

NAME = "knn_edges"


def knn_edges(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Edges of every row of pca_features to its ``k`` nearest (reused while pca_features,
    ``k`` and the space are unchanged)."""
    files = settings.layout
    stage = Stage(NAME, partial(_neighbours, settings.k), upstream=("pca_features",),
                  params=(settings.k, params.KNN_SPACE), outputs=(files.knn_edges,))
    return run_stage(stage, files, report)


def _neighbours(k: int, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    _, Z = read_feature_table(files.pca_features)
    edges = compute_knn_edges(Z, k=min(k, max(len(Z) - 1, 1)), space=params.KNN_SPACE)
    return Outcome(state={"edges": len(edges), "images": len(Z), "k": k},
                   writes={files.knn_edges: edges})
