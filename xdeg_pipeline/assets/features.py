"""image_features (CNN features, cached by content hash) and pca_features."""

import io
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    BackfillPolicy,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from xdeg_pipeline.assets.common import CODE_VERSION, layout, md_table, path_meta, progress
from xdeg_pipeline.core import params
from xdeg_pipeline.core.atomic import build_lock, remove_stale_temp
from xdeg_pipeline.core.feature_store import FeatureStore, update_features
from xdeg_pipeline.core.features import FeatureExtractor
from xdeg_pipeline.core.layout import Layout
from xdeg_pipeline.core.pca import PcaModel, fit_pca
from xdeg_pipeline.core.state import (
    fingerprint,
    fingerprint_lines,
    is_current,
    read_state,
    write_state,
)
from xdeg_pipeline.core.tables import (
    read_feature_table,
    replace_rejected,
    write_feature_parts,
    write_feature_table,
)
from xdeg_pipeline.partitions import SHARD_KEYS, SHARDS, shard_of
from xdeg_pipeline.resources import XdegResource

EAGER = AutomationCondition.eager()
COMBINED_ENV = "XDEG_COMBINED_FEATURES"


def _checkpoint_every() -> int:
    """Images per feature-cache chunk: ``$XDEG_CHECKPOINT_EVERY`` or 512 (a killed build loses
    at most this many computed images)."""
    return max(1, int(os.environ.get("XDEG_CHECKPOINT_EVERY") or 512))


def _unique_items(manifest: pd.DataFrame, root) -> list[tuple[str, object]]:
    first = manifest.drop_duplicates("content_hash", keep="first")
    return [(h, root / n) for h, n in zip(first["content_hash"], first["name"])]


def _shard_state_name(shard: str) -> str:
    return f"image_features.shard={shard}"


def _shard_fingerprint(cache_key: str, hashes: list[str]) -> str:
    return fingerprint(cache_key, fingerprint_lines(sorted(hashes)))


@dataclass(frozen=True)
class ShardTask:
    """One shard's work, picklable so that it can run on a Dask worker."""

    shard: str
    items: tuple[tuple[str, str], ...]  # (content hash, absolute path)
    home: str
    cache_key: str
    input_fp: str
    extractor_args: tuple[tuple[str, object], ...]
    checkpoint_every: int


_EXTRACTORS: dict[str, FeatureExtractor] = {}  # one loaded model per worker process


def _extractor(args: tuple[tuple[str, object], ...]) -> FeatureExtractor:
    key = repr(args)
    if key not in _EXTRACTORS:
        kwargs = dict(args)
        if multiprocessing.current_process().daemon:  # a Dask worker may not fork loaders
            kwargs["num_workers"] = 0
        _EXTRACTORS[key] = FeatureExtractor(**kwargs)
    return _EXTRACTORS[key]


def extract_shard(task: ShardTask, progress=None, log=None) -> dict:
    """Bring one shard's feature table up to date: cached features are reused, the rest
    computed into the shard's own cache. Runs in the step's process or on a Dask worker
    (no Dagster context needed); returns the shard's state plus computed/reused counts."""
    files = Layout(Path(task.home))
    with build_lock(files.home, name=f"shard-{task.shard}"):
        return _extract_shard_locked(files, task, progress, log)


def _extract_shard_locked(files: Layout, task: ShardTask, progress, log) -> dict:
    out = files.image_features_shard(task.shard)
    name = _shard_state_name(task.shard)
    # temporary files of a killed extraction of this shard
    remove_stale_temp(files.feature_cache_shard(task.shard), recursive=True)
    remove_stale_temp(out.parent, f".{out.name}.*.tmp")
    state = is_current(files.home, name, task.input_fp, [out])
    if state is not None:
        return {**state, "shard": task.shard, "computed": 0, "reused": len(task.items)}
    pid = os.getpid()
    extractor = _extractor(task.extractor_args)
    store = FeatureStore(files.feature_cache_shard(task.shard), task.cache_key)
    update = update_features(
        store,
        [(h, Path(p)) for h, p in task.items],
        extractor,
        checkpoint_every=task.checkpoint_every,
        progress=progress,
        log=log,
    )
    ok = [h for h, _ in task.items if h not in update.failed]
    X = store.get(ok) if ok else np.zeros((0, extractor.dim), np.float32)
    write_feature_table(ok, X, out)
    state = {
        "input_fingerprint": task.input_fp,
        "output_fingerprint": fingerprint(task.input_fp, sorted(update.failed)),
        "images": len(ok),
        "dim": extractor.dim,
        "failed": dict(update.failed),
        "cache_key": task.cache_key,
    }
    write_state(files.home, name, state)
    return {**state, "shard": task.shard, "computed": update.computed, "reused": update.reused,
            "pid": pid}


def _dask_worker_client():
    """A client to the Dask cluster when this step itself runs on a Dask worker, else None."""
    try:
        from distributed import get_worker, worker_client
    except ImportError:
        return None
    try:
        get_worker()
    except ValueError:
        return None
    return worker_client()


def _run_tasks(context: AssetExecutionContext, tasks: list[ShardTask]) -> list[dict]:
    """Run shard tasks: fanned out over the cluster on a Dask worker, else one after another."""
    if not tasks:
        return []
    client_cm = _dask_worker_client()
    if client_cm is None:
        return [
            extract_shard(
                t, progress=progress(context, f"features {t.shard}"), log=context.log.info
            )
            for t in tasks
        ]
    context.log.info(f"fanning {len(tasks)} shards out over the Dask cluster")
    with client_cm as client:
        futures = client.map(extract_shard, tasks, key=[f"xdeg-shard-{t.shard}-{t.input_fp}"
                                                         for t in tasks])
        return client.gather(futures)


def _migrate_unsharded_cache(files: Layout, cache_key: str, log) -> None:
    """Move a cache written before sharding (``feature_cache/<key>``) into the shard caches
    once, so upgrading recomputes nothing."""
    legacy = FeatureStore(files.feature_cache, cache_key)
    if not legacy.folder.is_dir():
        return
    hashes = sorted(legacy.known())
    for shard in SHARD_KEYS:
        part = [h for h in hashes if shard_of(h) == shard]
        store = FeatureStore(files.feature_cache_shard(shard), cache_key)
        todo = [h for h in part if h not in store.known()]
        if todo:
            store.add(todo, legacy.get(todo))
            store.compact()
    legacy.folder.rename(legacy.folder.with_name(legacy.folder.name + ".migrated"))
    log(f"moved {len(hashes)} cached features into per-shard caches")


def _run_shards(context: AssetExecutionContext) -> list[str]:
    """The shards this run materialises: its partition(s), or all of them in an
    unpartitioned run (e.g. ``materialize()`` without partition tags)."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return list(SHARD_KEYS)


def _combine(files: Layout, manifest: pd.DataFrame, fps: dict[str, str], cache_key: str,
             dim: int) -> dict:
    """The collection-level state of image_features, from every shard's state: the shards
    that are current, the combined output fingerprint, the rejects; refreshes the combined
    ``image_features.parquet`` when anything changed."""
    states = {p: read_state(files.home, _shard_state_name(p)) for p in SHARD_KEYS}
    current = [
        p for p in SHARD_KEYS
        if states[p].get("input_fingerprint") == fps[p]
        and files.image_features_shard(p).exists()
    ]
    stale = [p for p in SHARD_KEYS if p not in current]
    output_fp = fingerprint(
        cache_key, [(p, states[p].get("output_fingerprint")) for p in SHARD_KEYS], stale
    )
    previous = read_state(files.home, "image_features")
    failed = {h: r for p in current for h, r in states[p].get("failed", {}).items()}
    if previous.get("output_fingerprint") != output_fp:
        first_name = dict(zip(manifest["content_hash"], manifest["name"]))
        rows = pd.DataFrame(
            [
                {"name": first_name.get(h, h), "reason": r.split(":")[0], "detail": r}
                for h, r in failed.items()
            ],
            columns=["name", "reason", "detail"],
        )
        replace_rejected(files.rejected_images, "features", rows)
    combined = os.environ.get(COMBINED_ENV, "1") != "0" and not stale
    if combined and (
        previous.get("output_fingerprint") != output_fp or not files.image_features.exists()
    ):
        write_feature_parts(
            (read_feature_table(files.image_features_shard(p)) for p in current),
            files.image_features,
        )
    state = {
        "input_fingerprint": fingerprint(cache_key, fps),
        "output_fingerprint": output_fp,
        "images": sum(int(states[p].get("images", 0)) for p in current),
        "dim": dim,
        "cache_key": cache_key,
        "shards": {p: int(states[p].get("images", 0)) for p in current},
        "stale_shards": stale,
        "failed": len(failed),
    }
    write_state(files.home, "image_features", state)
    return state


@asset(
    deps=["raw_images"],
    group_name="features",
    code_version=CODE_VERSION,
    kinds={"pytorch", "parquet"},
    automation_condition=EAGER,
    partitions_def=SHARDS,
    backfill_policy=BackfillPolicy.single_run(),
    description="CNN features (pooled before the classifier), one row per unique image, in 16 "
    "shards by content-hash prefix (image_features/shard=<p>.parquet); a shard whose images "
    "are unchanged is skipped, and only images not yet in the cache are computed.",
)
def image_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    shards = _run_shards(context)
    with build_lock(files.home):
        manifest = pd.read_parquet(files.raw_images, columns=["name", "content_hash"])
        root = xdeg.images_path()
        items = _unique_items(manifest, root)
        backbone = xdeg.backbone_name()
        t0 = time.perf_counter()
        args = (
            ("backbone", backbone),
            ("weights", xdeg.weights_path()),
            ("device", xdeg.device),
            ("batch_size", xdeg.batch_size_value()),
            ("num_workers", xdeg.num_workers),
            ("model_cache", str(files.model_cache)),
        )
        extractor = _extractor(args)
        key = extractor.cache_key
        _migrate_unsharded_cache(files, key, context.log.info)
        by_shard: dict[str, list[tuple[str, str]]] = {p: [] for p in SHARD_KEYS}
        for h, path in items:
            by_shard[shard_of(h)].append((h, str(path)))
        fps = {p: _shard_fingerprint(key, [h for h, _ in by_shard[p]]) for p in SHARD_KEYS}
        tasks, results = [], []
        for p in shards:
            task = ShardTask(p, tuple(by_shard[p]), str(files.home), key, fps[p], args,
                             _checkpoint_every())
            state = is_current(files.home, _shard_state_name(p), fps[p],
                               [files.image_features_shard(p)])
            if state is None:
                tasks.append(task)
            else:
                results.append({**state, "shard": p, "computed": 0, "reused": len(by_shard[p])})
        if not tasks:
            context.log.info("collection and backbone unchanged: reusing image_features")
    # extraction runs outside the data folder's lock (each shard takes its own), so runs of
    # different shards, e.g. one run per shard on GPU nodes, overlap
    results += _run_tasks(context, tasks)
    with build_lock(files.home):
        overall = _combine(files, manifest, fps, key, extractor.dim)
        computed = sum(r["computed"] for r in results)
        reused = sum(r["reused"] for r in results)
        failed = {h: r for res in results for h, r in res.get("failed", {}).items()}
        seconds = time.perf_counter() - t0
        for h, reason in failed.items():
            context.log.warning(f"feature extraction failed for {h[:12]}: {reason}")
        if overall["stale_shards"]:
            context.log.warning(f"shards not up to date yet: {overall['stale_shards']}")
        table = pd.DataFrame(
            sorted(
                (r["shard"], r.get("images", 0), r["computed"], r["reused"],
                 len(r.get("failed", {})))
                for r in results
            ),
            columns=["shard", "images", "computed", "reused", "failed"],
        )
        return MaterializeResult(
            data_version=DataVersion(overall["output_fingerprint"]),
            metadata={
                "path": path_meta(files.image_features_dir),
                "backbone": backbone,
                "cache_key": key,
                "device": str(extractor.device),
                "images": overall["images"],
                "dim": extractor.dim,
                "shards_in_run": len(shards),
                "shards_computed": len(tasks),
                "shard_processes": len({r["pid"] for r in results if "pid" in r}),
                "shards": md_table(table, max_rows=16),
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


def _pca_sample(shard_files: list[Path], n_total: int, max_samples: int) -> np.ndarray:
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


@asset(
    deps=["image_features"],
    group_name="features",
    code_version=CODE_VERSION,
    kinds={"parquet"},
    automation_condition=EAGER,
    description="Features reduced with fbpca, fitted on a bounded sample of the shards and "
    "applied shard by shard into one streamed table. The fitted model is kept and reused while "
    "the collection grows by less than a quarter.",
)
def pca_features(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        n_components = (
            params.PCA_COMPONENTS if xdeg.pca_components is None else (xdeg.pca_components or None)
        )
        features_state = read_state(files.home, "image_features")
        upstream = features_state.get("output_fingerprint")
        input_fp = fingerprint(upstream, n_components)
        t0 = time.perf_counter()
        state = is_current(
            files.home, "pca_features", input_fp, [files.pca_features, files.pca_model]
        )
        refit = False
        if state is None:
            if features_state.get("stale_shards"):
                raise RuntimeError(
                    "image_features shards not materialised for the current collection: "
                    f"{', '.join(features_state['stale_shards'])} (materialise all shards)"
                )
            shard_files = [
                files.image_features_shard(p) for p in SHARD_KEYS
                if int(features_state.get("shards", {}).get(p, 0)) > 0
            ]
            n_total = int(features_state.get("images", 0))
            dim = int(features_state.get("dim", 0))
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
                if model.mean.shape[0] != dim or n_total > 1.25 * max(fitted_on, 1):
                    model = None
            if model is None:
                refit = True
                sample = _pca_sample(shard_files, n_total, params.PCA_MAX_SAMPLES)
                model = fit_pca(sample, n_components, max_samples=params.PCA_MAX_SAMPLES)
                del sample
                model.save(files.pca_model)
                fitted_on = n_total
                model_id = fingerprint(input_fp, "fit", time.time())
            fitted = model
            rows = write_feature_parts(
                (
                    (hashes, fitted.transform(X))
                    for hashes, X in map(read_feature_table, shard_files)
                    if len(hashes)
                ),
                files.pca_features,
            )
            state = {
                "input_fingerprint": input_fp,
                "output_fingerprint": fingerprint(upstream, model_id),
                "model_id": model_id,
                "n_components": n_components,
                "fitted_on": fitted_on,
                "images": rows,
                "dim": model.dim_out,
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
