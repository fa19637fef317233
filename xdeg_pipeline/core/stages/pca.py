"""pca_features: the features reduced with fbpca, fitted on a bounded sample of the shards and
applied shard by shard into one streamed table; the fitted model is kept while the collection
grows by less than a quarter (:data:`REFIT_GROWTH`)."""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.pca import PcaModel, fit_pca
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.shards import feature_shard_files
from xdeg_pipeline.core.storage.state import fingerprint
from xdeg_pipeline.core.storage.tables import read_feature_table, write_feature_parts

NAME = "pca_features"
REFIT_GROWTH = 1.25  # refit once the collection is this many times what the model was fit on
TRANSFORM = 2  # what a reduced row holds: 2 = the axes and the residual (1: the axes only)


def pca_features(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Reduce image_features (reused while image_features and the dimensions are unchanged);
    the result's facts hold the explained variance ratio of each component and ``refit``."""
    files, n_components = settings.layout, settings.pca_dims
    stage = Stage(NAME, partial(_reduce, n_components), upstream=("image_features",),
                  params=(n_components, TRANSFORM), outputs=(files.pca_features, files.pca_model))
    result = run_stage(stage, files, report)
    ratio = result.facts.get("explained_variance_ratio")
    if ratio is None:
        ratio = PcaModel.load(files.pca_model).explained_variance_ratio
    facts = {"refit": False, **result.facts, "explained_variance_ratio": np.asarray(ratio)}
    return dataclasses.replace(result, facts=facts)


def _reduce(n_components: int | None, inputs: StageInputs) -> Outcome:
    files, features = inputs.layout, inputs.upstream["image_features"]
    if features.get("stale_shards"):
        raise RuntimeError(
            "image_features shards not materialised for the current collection: "
            f"{', '.join(features['stale_shards'])} (materialise all shards)"
        )
    shard_files = feature_shard_files(files, features)
    n_total, dim = int(features.get("images", 0)), int(features.get("dim", 0))
    kept = reusable_model(files, inputs.previous, n_components, dim, n_total)
    writes: dict[Path, Any] = {}
    if kept is None:
        sample = pca_sample(shard_files, n_total, params.PCA_MAX_SAMPLES)
        model = fit_pca(sample, n_components, max_samples=params.PCA_MAX_SAMPLES)
        del sample
        fitted_on, model_id = n_total, fingerprint(inputs.fingerprint, "fit", time.time())
        writes[files.pca_model] = model.save
    else:
        model, fitted_on, model_id = kept
    writes[files.pca_features] = partial(_write_reduced, model, shard_files)
    state = {
        "model_id": model_id,
        "images": n_total,  # the rows of the shards read (their counts in image_features)
        "n_components": n_components,
        "transform": TRANSFORM,
        "fitted_on": fitted_on,
        "dim": model.dim_out,  # columns of a reduced row
        "axes": model.axes,
        "explained_variance": float(np.sum(model.explained_variance_ratio)),
    }
    return Outcome(state=state, writes=writes,
                   output_fingerprint=fingerprint(features.get("output_fingerprint"), model_id,
                                                  TRANSFORM),
                   facts={"refit": kept is None,
                          "explained_variance_ratio": model.explained_variance_ratio})


def _write_reduced(model: PcaModel, shard_files: list[Path], tmp: Path) -> None:
    parts = ((hashes, model.transform(X)) for hashes, X in map(read_feature_table, shard_files)
             if len(hashes))
    write_feature_parts(parts, tmp)


def reusable_model(files: Layout, previous: dict, n_components: int | None, dim: int,
                   n_total: int) -> tuple[PcaModel, int, str] | None:
    """The kept model (with the size it was fitted on and its id), or None to refit: the
    model must exist with the same components and input dimension, and the collection must
    not have grown past :data:`REFIT_GROWTH` times the images it was fitted on."""
    model_id = previous.get("model_id")
    if not (files.pca_model.exists() and model_id
            and previous.get("n_components") == n_components):
        return None
    model = PcaModel.load(files.pca_model)
    fitted_on = int(previous.get("fitted_on", 0))
    if model.mean.shape[0] != dim or n_total > REFIT_GROWTH * max(fitted_on, 1):
        return None
    return model, fitted_on, model_id


def pca_sample(shard_files: list[Path], n_total: int, max_samples: int) -> np.ndarray:
    """At most ``max_samples`` feature rows drawn from the shards in proportion to their size
    (seeded), reading one shard at a time: the PCA fit's memory is bounded by the sample."""
    rng = np.random.default_rng(0)
    parts = []
    for path in shard_files:
        _, X = read_feature_table(path)
        if n_total > max_samples and len(X):
            m = min(len(X), max(1, round(max_samples * len(X) / n_total)))
            X = X[np.sort(rng.choice(len(X), size=m, replace=False))]
        parts.append(X)
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("no image features to fit the PCA on")
    return np.concatenate(parts)
