"""A few new images spread over many shards, computed in one stream before the shard tasks.

After adding 1 % of a collection, most of the 16 shards have one to five new images each:
extracted shard by shard, each would be a batch of its own (a model step for 2 images costs
about as much as for 8). :func:`prefetch_new_features` computes all of them in one stream of
full batches and adds each shard's rows to that shard's cache (under the shard's lock,
compacted as a shard task would); the shard tasks then find them cached. Only when the new
images fit in one checkpoint (``checkpoint_every``), so a killed build never loses more than
before.
"""

from __future__ import annotations

from pathlib import Path

from xdeg_pipeline.core.progress import ProgressFn
from xdeg_pipeline.core.stage import StageRunner
from xdeg_pipeline.core.stages.shard_task import ShardTask, extractor_for, thumbnail_job
from xdeg_pipeline.core.storage.feature_store import FeatureStore
from xdeg_pipeline.core.storage.layout import Layout


def prefetch_new_features(tasks: list[ShardTask], progress: ProgressFn | None = None
                          ) -> dict[str, dict]:
    """Compute the images of ``tasks`` missing from their shards' caches in one stream, when
    they are spread over several shards and fit in one checkpoint; returns, per shard, the
    facts a shard task reports (``computed``, ``runtime``, ``device``). Failures are left to
    the shard tasks, which report them."""
    if len(tasks) < 2 or tasks[0].vectors is not None:  # vectors: nothing to compute
        return {}
    files = Layout(Path(tasks[0].home))
    todo: list[tuple[str, str, str]] = []  # (shard, content hash, path)
    for t in tasks:
        known = FeatureStore(files.feature_cache_shard(t.shard), t.cache_key).known()
        todo += [(t.shard, h, p) for h, p in t.items if h not in known]
    limit = min(t.checkpoint_every for t in tasks)
    if len({s for s, _, _ in todo}) < 2 or len(todo) > limit:
        return {}
    if progress is not None:
        progress(0, len(todo))  # at 0 before the model loads, as the shard tasks show theirs
    extractor = extractor_for(tasks[0].extractor_args)
    thumbs = thumbnail_job(tasks[0].home, [h for _, h, _ in todo])  # decoded once for both
    feats, failures = extractor.extract([Path(p) for _, _, p in todo], progress, thumbs=thumbs)
    facts = {"runtime": extractor.runtime, "device": str(extractor.device)}
    computed: dict[str, dict] = {}
    runner = StageRunner(files)
    by_shard = {t.shard: t for t in tasks}
    for shard in sorted({s for s, _, _ in todo}):
        rows = [i for i, (s, _, _) in enumerate(todo) if s == shard and i not in failures]
        if not rows:
            continue
        with runner.lock(f"shard-{shard}"):
            store = FeatureStore(files.feature_cache_shard(shard), by_shard[shard].cache_key)
            store.add([todo[i][1] for i in rows], feats[rows])
            store.compact(when_due=True)
        computed[shard] = {"computed": len(rows), **facts}
    return computed
