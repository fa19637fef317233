"""Asset checks: coverage, finiteness, explained variance, kNN recall, connectivity, endpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from xdeg_pipeline.core import params
from xdeg_pipeline.core.layout import Layout
from xdeg_pipeline.core.state import read_state
from xdeg_pipeline.core.tables import read_feature_table, read_rejected
from xdeg_pipeline.partitions import SHARD_KEYS, shard_of
from xdeg_pipeline.resources import XdegResource

MIN_EXPLAINED_VARIANCE = 0.5
MIN_KNN_RECALL = 0.95


def _layout(xdeg: XdegResource) -> Layout:
    return Layout(xdeg.home_path())


@asset_check(
    asset="image_features",
    description="Every manifest image has features in its shard or a recorded rejection, every "
    "shard is up to date, and every feature value is finite (read one shard at a time).",
)
def features_complete_and_finite(xdeg: XdegResource) -> AssetCheckResult:
    files = _layout(xdeg)
    manifest = pd.read_parquet(files.raw_images, columns=["name", "content_hash"])
    state = read_state(files.home, "image_features")
    stale = list(state.get("stale_shards", SHARD_KEYS))
    have: set[str] = set()
    non_finite = 0
    misplaced = 0
    for shard in SHARD_KEYS:
        path = files.image_features_shard(shard)
        if shard in stale or not path.exists():
            continue
        hashes, X = read_feature_table(path)
        have.update(hashes)
        misplaced += sum(shard_of(h) != shard for h in hashes)
        non_finite += int((~np.isfinite(X)).any(axis=1).sum()) if X.size else 0
    rejected = read_rejected(files.rejected_images)
    failed_names = set(rejected.loc[rejected["stage"] == "features", "name"])
    missing = manifest[~manifest["content_hash"].isin(have) & ~manifest["name"].isin(failed_names)]
    return AssetCheckResult(
        passed=missing.empty and non_finite == 0 and not stale and misplaced == 0,
        metadata={
            "missing": len(missing),
            "missing_examples": ", ".join(missing["name"].head(5)),
            "rows_with_nan_or_inf": non_finite,
            "stale_shards": ", ".join(stale),
            "rows_in_wrong_shard": misplaced,
        },
    )


@asset_check(
    asset="pca_features",
    description=f"Explained variance of the PCA; warns when under {MIN_EXPLAINED_VARIANCE:.0%}.",
)
def pca_explained_variance(xdeg: XdegResource) -> AssetCheckResult:
    state = read_state(_layout(xdeg).home, "pca_features")
    ev = float(state.get("explained_variance", 0.0))
    return AssetCheckResult(
        passed=ev >= MIN_EXPLAINED_VARIANCE,
        severity=AssetCheckSeverity.WARN,
        metadata={"explained_variance": round(ev, 4), "threshold": MIN_EXPLAINED_VARIANCE},
    )


@asset_check(
    asset="knn_edges",
    description=f"Recall of the approximate kNN against exact "
    f"search on a sample is at least {MIN_KNN_RECALL}.",
)
def knn_recall_check(xdeg: XdegResource) -> AssetCheckResult:
    from xdeg_pipeline.core.knn import knn_recall

    files = _layout(xdeg)
    _, Z = read_feature_table(files.pca_features)
    edges = pd.read_parquet(files.knn_edges)
    k = int(edges.groupby("source").size().max()) if len(edges) else 0
    recall = knn_recall(Z, edges, k=k, sample=min(500, len(Z)), space=params.KNN_SPACE)
    return AssetCheckResult(
        passed=recall >= MIN_KNN_RECALL,
        metadata={"recall": round(float(recall), 4), "k": k, "threshold": MIN_KNN_RECALL},
    )


@asset_check(
    asset="similarity_graph",
    description="The graph is one connected component, so every pair of images has a path.",
)
def graph_connected(xdeg: XdegResource) -> AssetCheckResult:
    state = read_state(_layout(xdeg).home, "similarity_graph")
    components = int(state.get("components", -1))
    return AssetCheckResult(
        passed=components == 1,
        metadata={"components": components, "vertices": state.get("vertices", 0)},
    )


@asset_check(
    asset="requested_paths",
    description="Every requested pair resolved to images of the collection and got a chain.",
)
def requested_endpoints_exist(xdeg: XdegResource) -> AssetCheckResult:
    files = _layout(xdeg)
    failed_file = files.paths_dir / "failed_requests.parquet"
    failed = pd.read_parquet(failed_file) if failed_file.exists() else pd.DataFrame()
    return AssetCheckResult(
        passed=failed.empty,
        metadata={
            "failed_requests": len(failed),
            "errors": "; ".join(failed["error"].head(5)) if len(failed) else "",
        },
    )


BUILD_CHECKS = [
    features_complete_and_finite,
    pca_explained_variance,
    knn_recall_check,
    graph_connected,
]
ALL_CHECKS = [*BUILD_CHECKS, requested_endpoints_exist]
