"""Asset checks: coverage, finiteness, explained variance, kNN recall, connectivity, endpoints
(what each verifies: :mod:`xdeg_pipeline.core.stages.checks`)."""

from __future__ import annotations

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from xdeg_pipeline.core.stages import checks
from xdeg_pipeline.core.stages.checks import MIN_EXPLAINED_VARIANCE, MIN_KNN_RECALL
from xdeg_pipeline.resources import XdegResource


def _result(outcome: checks.CheckOutcome, **kwargs) -> AssetCheckResult:
    passed, metadata = outcome
    return AssetCheckResult(passed=passed, metadata=metadata, **kwargs)


@asset_check(
    asset="image_features",
    description="Every manifest image has features in its shard or a recorded rejection, every "
    "shard is up to date, and every feature value is finite (read one shard at a time).",
)
def features_complete_and_finite(xdeg: XdegResource) -> AssetCheckResult:
    """Coverage and finiteness of the feature shards."""
    return _result(checks.features_complete_and_finite(xdeg.settings().layout))


@asset_check(
    asset="pca_features",
    description=f"Explained variance of the PCA; warns when under {MIN_EXPLAINED_VARIANCE:.0%}.",
)
def pca_explained_variance(xdeg: XdegResource) -> AssetCheckResult:
    """The variance the PCA keeps."""
    return _result(checks.pca_explained_variance(xdeg.settings().layout),
                   severity=AssetCheckSeverity.WARN)


@asset_check(
    asset="knn_edges",
    description=f"Recall of the approximate kNN against exact "
    f"search on a sample is at least {MIN_KNN_RECALL}.",
)
def knn_recall_check(xdeg: XdegResource) -> AssetCheckResult:
    """Recall of the kNN index on a sample."""
    return _result(checks.knn_recall(xdeg.settings().layout))


@asset_check(
    asset="similarity_graph",
    description="The graph is one connected component, so every pair of images has a path.",
)
def graph_connected(xdeg: XdegResource) -> AssetCheckResult:
    """One connected component."""
    return _result(checks.graph_connected(xdeg.settings().layout))


@asset_check(
    asset="requested_paths",
    description="Every requested pair resolved to images of the collection and got a chain.",
)
def requested_endpoints_exist(xdeg: XdegResource) -> AssetCheckResult:
    """No failed request."""
    return _result(checks.requested_endpoints_exist(xdeg.settings().layout))


BUILD_CHECKS = [
    features_complete_and_finite,
    pca_explained_variance,
    knn_recall_check,
    graph_connected,
]
ALL_CHECKS = [*BUILD_CHECKS, requested_endpoints_exist]
