"""image_features (CNN features, cached by content hash, in 16 shards) and pca_features."""

import warnings

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    asset,
)

from xdeg_pipeline.assets.common import (
    FOLLOWS_UPSTREAM,
    add_partition_metadata,
    materialized,
    pick,
    plain_faults,
    reporter,
)
from xdeg_pipeline.assets.metadata import md_table, run_totals, shard_figures, variance_plot
from xdeg_pipeline.core.stages import features, pca
from xdeg_pipeline.partitions import SHARDS, run_shards
from xdeg_pipeline.resources import XdegResource

# A backfill of the 16 shards must be one run (the build): the policy is what the build needs,
# beta or not, and its warning is nothing a user could act on.
warnings.filterwarnings("ignore", r"Parameter `backfill_policy`", BetaWarning)


@asset(
    deps=["raw_images"],
    group_name="features",
    kinds={"pytorch", "parquet"},
    **FOLLOWS_UPSTREAM,
    partitions_def=SHARDS,
    backfill_policy=BackfillPolicy.single_run(),
    description="CNN features (pooled before the classifier), one row per unique image, in 16 "
    "shards by content-hash prefix (image_features/shard=<p>.parquet); a shard whose images "
    "are unchanged is skipped, and only images not yet in the cache are computed.",
)
@plain_faults
def image_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Bring the run's shards up to date (fanned out over the cluster on a Dask worker), then
    the collection's state and the combined table."""
    settings = xdeg.settings()
    result = features.image_features(settings, run_shards(context), reporter(context, settings),
                                     map_tasks=features.dask_worker_map())
    add_partition_metadata(context, shard_figures(result.facts["shards"]))  # each its own
    return materialized(  # one run's metadata, which Dagster gives every partition of the run
        result,
        path=settings.layout.image_features_dir,
        backbone=settings.backbone,
        **pick(result, "cache_key", "device", "runtime", "images", "dim", "shards_in_run",
               "shards_computed", "shard_processes"),
        run_shards=md_table(result.facts["shards"], max_rows=16),
        **run_totals(result, "images_computed", "images_reused", "images_failed",
                     "images_per_second"),
        **pick(result, "vectors_extra_rows", "vectors_extra_examples"),
    )


@asset(
    deps=["image_features"],
    group_name="features",
    kinds={"parquet"},
    **FOLLOWS_UPSTREAM,
    description="Features reduced with fbpca, fitted on a bounded sample of the shards and "
    "applied shard by shard into one streamed table. The fitted model is kept and reused while "
    "the collection grows by less than a quarter.",
)
@plain_faults
def pca_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    """Reduce the features of every shard with the kept or a newly fitted PCA."""
    settings = xdeg.settings()
    result = pca.pca_features(settings, reporter(context, settings))
    return materialized(
        result,
        path=settings.layout.pca_features,
        **pick(result, "images", "dim", "axes", "refit", "fitted_on"),
        explained_variance=round(result.state["explained_variance"], 4),
        explained_variance_plot=variance_plot(result.facts["explained_variance_ratio"],
                                              settings.layout.state_dir),
    )
