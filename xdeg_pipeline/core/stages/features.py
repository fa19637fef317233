"""image_features: CNN features of every unique image, in 16 shards by content hash.

Planning and combining hold the data folder's build lock; the extraction of each shard runs
outside it, under the shard's own lock (:mod:`.shard_task`), so runs of different shards (one
run per shard on GPU nodes, Dask tasks) overlap. The shards run one after another in this
process, or through a ``map_tasks`` callable (e.g. over a Dask cluster, :func:`dask_worker_map`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.dask_worker import worker_client
from xdeg_pipeline.core.progress import PartsProgress
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import (
    QUIET,
    Outcome,
    Reporter,
    Stage,
    StageInputs,
    StageResult,
    StageRunner,
)
from xdeg_pipeline.core.stages.shard_batch import prefetch_new_features
from xdeg_pipeline.core.stages.shard_task import (
    ShardTask,
    extract_shard,
    key_and_dim,
    shard_fingerprint,
    shard_state_name,
)
from xdeg_pipeline.core.stages.vectors import VectorTable, read_vectors
from xdeg_pipeline.core.storage.feature_store import FeatureStore
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.shards import SHARD_KEYS, shard_of
from xdeg_pipeline.core.storage.state import fingerprint
from xdeg_pipeline.core.storage.tables import (
    read_feature_table,
    replace_rejected,
    write_feature_parts,
)

NAME = "image_features"
MapTasks = Callable[[Callable, list[ShardTask], list[str]], list[dict]]


@dataclass
class ShardPlan:
    """What a run of image_features does: the shards to compute and those already current."""

    manifest: pd.DataFrame
    cache_key: str
    dim: int
    device: str
    fingerprints: dict[str, str]
    tasks: list[ShardTask] = field(default_factory=list)
    reused: list[dict] = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # e.g. the vectors table's extra rows
    model: dict = field(default_factory=dict)  # what made the features (for explanations)


def image_features(settings: Settings, shards: Sequence[str] = SHARD_KEYS,
                   report: Reporter = QUIET, map_tasks: MapTasks | None = None
                   ) -> StageResult:
    """Bring the given shards up to date, then the collection-level state (and the combined
    table) from every shard's state."""
    t0 = time.perf_counter()
    runner = StageRunner(settings.layout, report.info, report.warn)
    with runner.lock():
        plan = plan_shards(settings, shards, runner, report)
        if not plan.tasks:
            report.info("collection and backbone unchanged: reusing image_features")
    results = plan.reused + run_shard_tasks(plan.tasks, map_tasks, report)
    with runner.lock():
        stage = combine_stage(settings.layout, plan, settings.combined_features)
        overall = runner.run(stage)
    failed = {h: r for res in results for h, r in res.get("failed", {}).items()}
    for h, reason in failed.items():
        report.warn(f"feature extraction failed for {h[:12]}: {reason}")
    if overall.state["stale_shards"]:
        report.warn(f"shards not up to date yet: {overall.state['stale_shards']}")
    seconds = time.perf_counter() - t0
    computed = sum(r["computed"] for r in results)
    facts = {
        "cache_key": plan.cache_key,
        "device": next((r["device"] for r in results if r.get("device")), plan.device),
        "runtime": next((r["runtime"] for r in results if r.get("runtime")), "none (reused)"),
        "shards_in_run": len(shards),
        "shards_computed": len(plan.tasks),
        "shard_processes": len({r["pid"] for r in results if "pid" in r}),
        "shards": _shard_table(results), "images_computed": computed,
        "images_reused": sum(r["reused"] for r in results), "images_failed": len(failed),
        "images_per_second": round(computed / seconds, 2) if computed and seconds else 0.0,
        **plan.notes,
    }
    return StageResult(NAME, overall.state, not plan.tasks, seconds, facts)


def plan_shards(settings: Settings, shards: Sequence[str], runner: StageRunner,
                report: Reporter) -> ShardPlan:
    """Read the manifest, the feature cache key (no model loaded), move an unsharded cache,
    and split the shards into tasks and current ones (call it holding the build lock)."""
    files = settings.layout
    manifest = pd.read_parquet(files.raw_images, columns=["name", "content_hash"])
    first = manifest.drop_duplicates("content_hash", keep="first")
    args = tuple(settings.extractor_options().items())
    vectors = None if settings.vectors is None else _vectors(settings, manifest, report)
    if vectors is not None:
        args = (("vectors", str(settings.vectors)), ("cache_key", vectors.key),
                ("dim", vectors.dim))
    key, dim = key_and_dim(args)
    migrate_unsharded_cache(files, key, report.info)
    by_shard: dict[str, list[tuple[str, str]]] = {p: [] for p in SHARD_KEYS}
    for h, n in zip(first["content_hash"], first["name"]):
        by_shard[shard_of(h)].append((h, str(settings.images_root / n)))
    fps = {p: shard_fingerprint(key, [h for h, _ in by_shard[p]]) for p in SHARD_KEYS}
    if vectors is not None:  # a shard whose vectors changed is recomputed
        fps = {p: fingerprint(fps[p], vectors.digest([h for h, _ in by_shard[p]]))
               for p in SHARD_KEYS}
    plan = ShardPlan(manifest, key, dim, settings.device or "auto", fps,
                     model=_model_record(settings))
    if vectors is not None:
        plan.notes = {"vectors_extra_rows": vectors.extra_rows,
                      "vectors_extra_examples": ", ".join(vectors.extra_examples)}
    for p in shards:
        blobs = None if vectors is None else vectors.blobs([h for h, _ in by_shard[p]])
        task = ShardTask(p, tuple(by_shard[p]), str(files.home), key, fps[p], args,
                         settings.checkpoint_every, str(settings.images_root), blobs)
        state = runner.reusable(task.stage())
        if state is None:
            plan.tasks.append(task)
        else:
            plan.reused.append({**state, "shard": p, "computed": 0, "reused": len(task.items)})
    return plan


def _model_record(settings: Settings) -> dict:
    """What made the features, as the state records it (explanations load the same model)."""
    if settings.vectors is not None:
        return {"vectors": str(settings.vectors)}
    return {"backbone": settings.backbone, "weights": settings.weights,
            "options": dataclasses.asdict(settings.model_options())}


def _vectors(settings: Settings, manifest: pd.DataFrame, report: Reporter) -> VectorTable:
    """The vectors table matched to the collection; its rows for no image reported."""
    assert settings.vectors is not None
    table = read_vectors(settings.vectors, settings.vectors_column, manifest)
    report.info(f"features from your vectors: {settings.vectors.name} ({len(table.by_hash)} "
                f"images, {table.dim}-d)")
    if table.extra_rows:
        report.warn(f"{table.extra_rows} rows of the vectors table name no image of the "
                    f"collection, e.g. {', '.join(table.extra_examples)}")
    return table


def run_shard_tasks(tasks: list[ShardTask], map_tasks: MapTasks | None = None,
                    report: Reporter = QUIET) -> list[dict]:
    """Run shard tasks: through ``map_tasks(extract_shard, tasks, keys)`` when given, else one
    after another here, with one progress over all of them."""
    if not tasks:
        return []
    if map_tasks is not None:
        report.info(f"fanning {len(tasks)} shards out over the cluster")
        return list(map_tasks(extract_shard, tasks, [f"xdeg-shard-{t.shard}-{t.input_fp}"
                                                     for t in tasks]))
    early = prefetch_new_features(tasks, report.progress("features"))
    if early:
        report.info(f"features of {sum(e['computed'] for e in early.values())} new images in "
                    f"{len(early)} shards computed in one stream")
    # after a prefetch the tasks find their images cached: a shard counts only for what it
    # still computes (a failure retried), so the progress never sits at 0 % of reused images
    parts = PartsProgress(report.progress("features"),
                          {t.shard: 0 if early else len(t.items) for t in tasks})
    if not early:
        parts.start()
    results = []
    for task in tasks:
        res = extract_shard(task, progress=parts.part(task.shard), log=report.info,
                            warn=report.warn)
        pre = early.get(task.shard)  # computed by the prefetch, found cached by the task
        if pre and "computed" in res:
            n = pre["computed"]
            res = {**res, **pre, "computed": res["computed"] + n, "reused": res["reused"] - n}
        results.append(res)
        parts.finish(task.shard)
    return results


def dask_worker_map() -> MapTasks | None:
    """A map over the Dask cluster when this code runs on a Dask worker, else None."""
    client_of = worker_client()
    if client_of is None:
        return None

    def map_tasks(fn: Callable, tasks: list[ShardTask], keys: list[str]) -> list[dict]:
        with client_of() as client:
            return client.gather(client.map(fn, tasks, key=keys))

    return map_tasks


def migrate_unsharded_cache(files: Layout, cache_key: str, log: Callable[[str], None]) -> None:
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


def combine_stage(files: Layout, plan: ShardPlan, combined: bool) -> Stage:
    """The collection-level state of image_features (always recomputed from the shards')."""
    return Stage(NAME, partial(_combine, plan, combined), always=True,
                 upstream=tuple(shard_state_name(p) for p in SHARD_KEYS),
                 fingerprint=fingerprint(plan.cache_key, plan.fingerprints))


def _combine(plan: ShardPlan, combined: bool, inputs: StageInputs) -> Outcome:
    """The shards that are current, the combined output fingerprint and the rejects; the
    combined ``image_features.parquet`` is refreshed when anything changed."""
    files, fps = inputs.layout, plan.fingerprints
    states = {p: inputs.upstream[shard_state_name(p)] for p in SHARD_KEYS}
    current = [p for p in SHARD_KEYS if states[p].get("input_fingerprint") == fps[p]
               and files.image_features_shard(p).exists()]
    stale = [p for p in SHARD_KEYS if p not in current]
    output_fp = fingerprint(
        plan.cache_key, [(p, states[p].get("output_fingerprint")) for p in SHARD_KEYS], stale
    )
    changed = inputs.previous.get("output_fingerprint") != output_fp
    failed = {h: r for p in current for h, r in states[p].get("failed", {}).items()}
    if changed:
        replace_rejected(files.rejected_images, "features", _rejects(plan.manifest, failed))
    writes = {}
    if combined and not stale and (changed or not files.image_features.exists()):
        shard_files = [files.image_features_shard(p) for p in current]
        writes[files.image_features] = partial(_write_combined, shard_files)
    state = {
        "images": sum(int(states[p].get("images", 0)) for p in current),
        "dim": plan.dim,
        "cache_key": plan.cache_key,
        "shards": {p: int(states[p].get("images", 0)) for p in current},
        "stale_shards": stale,
        "failed": len(failed),
        "model": plan.model,
    }
    return Outcome(state=state, writes=writes, output_fingerprint=output_fp)


def _write_combined(shard_files: list[Path], tmp: Path) -> None:
    write_feature_parts((read_feature_table(p) for p in shard_files), tmp)


def _rejects(manifest: pd.DataFrame, failed: dict[str, str]) -> pd.DataFrame:
    first_name = dict(zip(manifest["content_hash"], manifest["name"]))
    return pd.DataFrame(
        [{"name": first_name.get(h, h), "reason": r.split(":")[0], "detail": r}
         for h, r in failed.items()],
        columns=["name", "reason", "detail"],
    )


def _shard_table(results: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        sorted((r["shard"], r.get("images", 0), r["computed"], r["reused"],
                len(r.get("failed", {}))) for r in results),
        columns=["shard", "images", "computed", "reused", "failed"],
    )
