"""One shard of image_features: a picklable task that brings the shard's feature table up to
date under the shard's own lock, in the step's process or on a Dask worker. The images it
decodes give their thumbnails too (written by whichever process decodes them), so the
thumbnails stage decodes only what the features did not (cached features, nvJPEG)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.spec import DEFAULT_FIT, cache_key, weighted_spec
from xdeg_pipeline.core.images.thumbnail import THUMB_SIZE, ThumbnailJob
from xdeg_pipeline.core.progress import ProgressFn
from xdeg_pipeline.core.stage import Outcome, Stage, StageInputs, StageRunner
from xdeg_pipeline.core.storage.atomic import remove_stale_temp
from xdeg_pipeline.core.storage.faults import DataFolderFault
from xdeg_pipeline.core.storage.feature_store import FeatureStore, FeatureUpdate, update_features
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import fingerprint, fingerprint_lines
from xdeg_pipeline.core.storage.tables import write_feature_table

ExtractorArgs = tuple[tuple[str, Any], ...]


def shard_state_name(shard: str) -> str:
    """The state file of one shard."""
    return f"image_features.shard={shard}"


def shard_fingerprint(cache_key: str, hashes: list[str]) -> str:
    """A shard's input: the cache key and its content hashes."""
    return fingerprint(cache_key, fingerprint_lines(sorted(hashes)))


@dataclass(frozen=True)
class ShardTask:
    """One shard's work, picklable so that it can run on a Dask worker."""

    shard: str
    items: tuple[tuple[str, str], ...]  # (content hash, absolute path)
    home: str
    cache_key: str
    input_fp: str
    extractor_args: ExtractorArgs
    checkpoint_every: int
    images_root: str = ""  # the collection folder ("": not known)
    vectors: tuple[bytes | None, ...] | None = None  # your own vectors, aligned with items

    def stage(self, progress: ProgressFn | None = None,
              log: Callable[[str], None] | None = None) -> Stage:
        """The shard as a stage of the runner, under the shard's lock."""
        out = Layout(Path(self.home)).image_features_shard(self.shard)
        return Stage(shard_state_name(self.shard), partial(_extract, self, progress, log),
                     fingerprint=self.input_fp, outputs=(out,), lock=f"shard-{self.shard}",
                     log_reuse=False, repair="rewriting it from the feature cache")


def thumbnail_job(home: str, hashes: list[str]) -> ThumbnailJob:
    """The thumbnails (of the thumbnails stage: same files, same size) that the decoders of
    these content hashes write."""
    return ThumbnailJob.of(Layout(Path(home)).thumbnails_dir, THUMB_SIZE, hashes)


_EXTRACTORS: dict[str, Any] = {}  # one loaded model per worker process
# One extraction at a time per process: the loaded model and its buffers are shared, and two
# shards extracted at once by the threads of one Dask worker got wrong features.
_EXTRACTION = threading.Lock()


def key_and_dim(args: ExtractorArgs) -> tuple[str, int]:
    """The feature cache key and dimension of these extractor arguments, without torch or a
    model (a build with nothing to compute never loads them)."""
    options = dict(args)
    if "vectors" in options:  # your own vectors (:mod:`.vectors`)
        return options["cache_key"], int(options["dim"])
    spec = weighted_spec(options.get("backbone", "efficientnet_lite0"), options.get("weights"),
                         options.get("model_options"), options.get("model_cache"))
    return cache_key(spec, spec.fit or DEFAULT_FIT), spec.dim


def extractor_for(args: ExtractorArgs) -> Any:
    """The feature extractor (:class:`~xdeg_pipeline.core.features.FeatureExtractor`) of
    these arguments, loaded once per process."""
    from xdeg_pipeline.core.features.extractor import FeatureExtractor

    key = repr(args)
    with _EXTRACTION:
        if key not in _EXTRACTORS:
            kwargs = dict(args)
            if multiprocessing.current_process().daemon:  # a Dask worker may not fork loaders
                kwargs["num_workers"] = 0
            _EXTRACTORS[key] = FeatureExtractor(**kwargs)
        return _EXTRACTORS[key]


def load_in_background(args: ExtractorArgs) -> threading.Thread:
    """Load the extractor of ``args`` in a thread, for a caller with other work first (the
    demo renders its emoji meanwhile: a first run imports torch and exports the model, seconds
    on one core); :func:`extractor_for` then gives the loaded one. A failure is left to the
    stage, which loads it again and says why."""
    def load() -> None:
        with contextlib.suppress(Exception):
            extractor_for(args).runner  # noqa: B018 (the runner: the model imported, exported)

    thread = threading.Thread(target=load, name="xdeg-model", daemon=True)
    thread.start()
    return thread


def extract_shard(task: ShardTask, progress: ProgressFn | None = None,
                  log: Callable[[str], None] | None = None,
                  warn: Callable[[str], None] | None = None) -> dict:
    """Bring one shard's feature table up to date: cached features are reused, the rest
    computed into the shard's own cache (no Dagster context needed); returns the shard's
    state plus computed/reused counts."""
    files = Layout(Path(task.home))
    runner = StageRunner(files, log, warn)
    with runner.lock(f"shard-{task.shard}"):
        # temporary files of a killed extraction of this shard
        remove_stale_temp(files.feature_cache_shard(task.shard), recursive=True)
        out = files.image_features_shard(task.shard)
        remove_stale_temp(out.parent, f".{out.name}.*.tmp")
        result = runner.run(task.stage(progress, log))
    if result.reused:
        return {**result.state, "shard": task.shard, "computed": 0, "reused": len(task.items)}
    return {**result.state, "shard": task.shard, **result.facts}


def _extract(task: ShardTask, progress: ProgressFn | None, log: Callable[[str], None] | None,
             inputs: StageInputs) -> Outcome:
    files = inputs.layout
    if task.vectors is not None:
        return _from_vectors(task)
    store = FeatureStore(files.feature_cache_shard(task.shard), task.cache_key)
    for line in store.set_aside_damaged(files.home):  # we hold the shard's lock
        inputs.warn(line)
    known = store.known()
    todo = sum(h not in known for h, _ in task.items)
    if progress is not None:  # the work of this shard, at once (the store keeps what it read)
        progress(0, todo)
    extractor = None
    if todo:  # the model is loaded only when something is to be computed
        extractor = extractor_for(task.extractor_args)
        if extractor.cache_key != task.cache_key:  # key_and_dim and the extractor must agree
            raise RuntimeError(f"feature cache key {extractor.cache_key} != planned "
                               f"{task.cache_key}")
        with _EXTRACTION:
            update = update_features(
                store,
                [(h, Path(p)) for h, p in task.items],
                extractor,
                checkpoint_every=task.checkpoint_every,
                progress=progress,
                log=log,
                thumbs=partial(thumbnail_job, task.home),
            )
    else:
        update = FeatureUpdate(reused=len({h for h, _ in task.items}))
    _collection_still_there(task, update)
    dim = extractor.dim if extractor is not None else key_and_dim(task.extractor_args)[1]
    ok = [h for h, _ in task.items if h not in update.failed]
    X = store.get(ok) if ok else np.zeros((0, dim), np.float32)
    return Outcome(
        state={"images": len(ok), "dim": dim, "failed": dict(update.failed),
               "cache_key": task.cache_key},
        writes={files.image_features_shard(task.shard): partial(write_feature_table, ok, X)},
        output_fingerprint=fingerprint(task.input_fp, sorted(update.failed)),
        facts={"computed": update.computed, "reused": update.reused, "pid": os.getpid(),
               "runtime": extractor.runtime if extractor is not None and update.computed
               else None,
               "device": None if extractor is None else str(extractor.device)},
    )


def _collection_still_there(task: ShardTask, update: FeatureUpdate) -> None:
    """Images that vanished with the collection folder are no rejects: the folder (or its
    network share) went away mid-build. The features saved before are kept in the cache."""
    paths = dict(task.items)
    gone = [paths[h] for h, why in update.failed.items() if why.startswith("vanished")]
    root = Path(task.images_root) if task.images_root else None
    if gone and (not Path(gone[0]).parent.is_dir() if root is None else not root.is_dir()):
        folder = root or Path(gone[0]).parent
        raise DataFolderFault(
            f"the collection folder {folder} vanished while computing image features "
            f"(shard {task.shard}; {update.computed} new features saved before are kept); "
            "reconnect or restore it, then run `xdeg build` again")


def _from_vectors(task: ShardTask) -> Outcome:
    """A shard of your own vectors: the table's rows, no model, no feature cache."""
    from xdeg_pipeline.core.stages.vectors import vector_features

    dim = key_and_dim(task.extractor_args)[1]
    ok, X, failed = vector_features(task.items, task.vectors or (), dim)
    return Outcome(
        state={"images": len(ok), "dim": dim, "failed": failed, "cache_key": task.cache_key},
        writes={Layout(Path(task.home)).image_features_shard(task.shard):
                partial(write_feature_table, ok, X)},
        output_fingerprint=fingerprint(task.input_fp, sorted(failed)),
        facts={"computed": len(ok), "reused": 0, "pid": os.getpid(), "runtime": "vectors",
               "device": None},
    )
