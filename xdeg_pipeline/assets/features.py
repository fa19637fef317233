"""image_features (CNN features, cached by content hash) and pca_features."""

import io
import os
import time

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from xdeg_pipeline.assets.common import CODE_VERSION, layout, md_table, path_meta, progress
from xdeg_pipeline.core import params
from xdeg_pipeline.core.atomic import build_lock
from xdeg_pipeline.core.feature_store import FeatureStore, update_features
from xdeg_pipeline.core.features import FeatureExtractor
from xdeg_pipeline.core.pca import PcaModel, fit_pca
from xdeg_pipeline.core.state import (
    fingerprint,
    fingerprint_lines,
    is_current,
    read_state,
    write_state,
)
from xdeg_pipeline.core.tables import read_feature_table, replace_rejected, write_feature_table
from xdeg_pipeline.resources import XdegResource

EAGER = AutomationCondition.eager()


def _checkpoint_every() -> int:
    """Images per feature-cache chunk: ``$XDEG_CHECKPOINT_EVERY`` or 512 (a killed build loses
    at most this many computed images)."""
    return max(1, int(os.environ.get("XDEG_CHECKPOINT_EVERY") or 512))


def _unique_items(manifest: pd.DataFrame, root) -> list[tuple[str, object]]:
    first = manifest.drop_duplicates("content_hash", keep="first")
    return [(h, root / n) for h, n in zip(first["content_hash"], first["name"])]


@asset(
    deps=["raw_images"],
    group_name="features",
    code_version=CODE_VERSION,
    kinds={"pytorch", "parquet"},
    automation_condition=EAGER,
    description="CNN features (pooled before the classifier), one row per unique image; "
    "computed only for images not yet in the content-hash cache.",
)
def image_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        manifest = pd.read_parquet(files.raw_images)
        root = xdeg.images_path()
        items = _unique_items(manifest, root)
        backbone = xdeg.backbone_name()
        t0 = time.perf_counter()
        extractor = FeatureExtractor(
            backbone,
            weights=xdeg.weights_path(),
            device=xdeg.device,
            batch_size=xdeg.batch_size,
            num_workers=xdeg.num_workers,
        )
        input_fp = fingerprint(extractor.cache_key, fingerprint_lines(sorted(h for h, _ in items)))
        state = is_current(files.home, "image_features", input_fp, [files.image_features])
        if state is not None:
            context.log.info("collection and backbone unchanged: reusing image_features")
            computed, reused, failed = 0, len(items), {}
            n_out, dim = state["images"], state["dim"]
        else:
            store = FeatureStore(files.feature_cache, extractor.cache_key)
            update = update_features(
                store,
                items,
                extractor,
                checkpoint_every=_checkpoint_every(),
                progress=progress(context, "features"),
                log=context.log.info,
            )
            computed, reused, failed = update.computed, update.reused, update.failed
            ok = [h for h, _ in items if h not in failed]
            X = store.get(ok) if ok else np.zeros((0, extractor.dim), np.float32)
            write_feature_table(ok, X, files.image_features)
            n_out, dim = len(ok), int(X.shape[1]) if len(ok) else extractor.dim
            first_name = dict(zip(manifest["content_hash"], manifest["name"]))
            rows = pd.DataFrame(
                [
                    {"name": first_name.get(h, h), "reason": r.split(":")[0], "detail": r}
                    for h, r in failed.items()
                ],
                columns=["name", "reason", "detail"],
            )
            replace_rejected(files.rejected_images, "features", rows)
            output_fp = fingerprint(input_fp, sorted(failed))
            write_state(
                files.home,
                "image_features",
                {
                    "input_fingerprint": input_fp,
                    "output_fingerprint": output_fp,
                    "images": n_out,
                    "dim": dim,
                    "cache_key": extractor.cache_key,
                },
            )
            state = read_state(files.home, "image_features")
        seconds = time.perf_counter() - t0
        for h, reason in failed.items():
            context.log.warning(f"feature extraction failed for {h[:12]}: {reason}")
        return MaterializeResult(
            data_version=DataVersion(state["output_fingerprint"]),
            metadata={
                "path": path_meta(files.image_features),
                "backbone": backbone,
                "cache_key": extractor.cache_key,
                "device": str(extractor.device),
                "images": n_out,
                "dim": dim,
                "images_computed": computed,
                "images_reused": reused,
                "images_failed": len(failed),
                "seconds": round(seconds, 3),
                "images_per_second": round(computed / seconds, 2) if computed and seconds else 0.0,
            },
        )


def _variance_plot(ratio: np.ndarray) -> MetadataValue:
    """Cumulative explained variance as an inline PNG."""
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.plot(np.arange(1, len(ratio) + 1), np.cumsum(ratio), marker=".")
    ax.set_xlabel("components")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return MetadataValue.md(f"![explained variance](data:image/png;base64,{data})")


@asset(
    deps=["image_features"],
    group_name="features",
    code_version=CODE_VERSION,
    kinds={"parquet"},
    automation_condition=EAGER,
    description="Features reduced with fbpca. The fitted model is kept and reused while the "
    "collection grows by less than a quarter, so adding images only transforms the new ones.",
)
def pca_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        n_components = (
            params.PCA_COMPONENTS if xdeg.pca_components is None else (xdeg.pca_components or None)
        )
        upstream = read_state(files.home, "image_features").get("output_fingerprint")
        input_fp = fingerprint(upstream, n_components)
        t0 = time.perf_counter()
        state = is_current(
            files.home, "pca_features", input_fp, [files.pca_features, files.pca_model]
        )
        refit = False
        if state is None:
            hashes, X = read_feature_table(files.image_features)
            model = None
            previous = read_state(files.home, "pca_features")
            model_id = previous.get("model_id")
            if (
                files.pca_model.exists()
                and model_id
                and previous.get("n_components") == n_components
            ):
                model = PcaModel.load(files.pca_model)
                fitted_on = int(previous.get("fitted_on", 0))
                if model.mean.shape[0] != X.shape[1] or len(X) > 1.25 * max(fitted_on, 1):
                    model = None
            if model is None:
                refit = True
                model = fit_pca(X, n_components)
                model.save(files.pca_model)
                fitted_on = len(X)
                model_id = fingerprint(input_fp, "fit", time.time())
            Z = model.transform(X)
            write_feature_table(hashes, Z, files.pca_features)
            state = {
                "input_fingerprint": input_fp,
                "output_fingerprint": fingerprint(upstream, model_id),
                "model_id": model_id,
                "n_components": n_components,
                "fitted_on": fitted_on,
                "images": len(hashes),
                "dim": int(Z.shape[1]),
                "explained_variance": float(np.sum(model.explained_variance_ratio)),
            }
            write_state(files.home, "pca_features", state)
        else:
            context.log.info("image_features unchanged: reusing pca_features")
        model = PcaModel.load(files.pca_model)
        return MaterializeResult(
            data_version=DataVersion(state["output_fingerprint"]),
            metadata={
                "path": path_meta(files.pca_features),
                "images": state["images"],
                "dim": state["dim"],
                "refit": refit,
                "fitted_on": state["fitted_on"],
                "explained_variance": round(state["explained_variance"], 4),
                "explained_variance_plot": _variance_plot(
                    np.asarray(model.explained_variance_ratio)
                ),
                "seconds": round(time.perf_counter() - t0, 3),
            },
        )


__all__ = ["image_features", "pca_features", "md_table"]
