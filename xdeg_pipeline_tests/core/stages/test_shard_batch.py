"""A few new images over many shards: one extraction stream, then the shard tasks reuse it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xdeg_pipeline.core.progress import progress_reporter
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages import shard_batch
from xdeg_pipeline.core.stages.features import run_shard_tasks
from xdeg_pipeline.core.stages.shard_task import ShardTask, extractor_for, key_and_dim
from xdeg_pipeline.core.storage.feature_store import FeatureStore
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline_tests.helpers.collections import make_image

ARGS = (("backbone", "efficientnet_lite0"), ("weights", None), ("device", "cpu"),
        ("batch_size", 4), ("num_workers", 0), ("runtime", "torch"), ("model_cache", None))


def _tasks(home: Path, images: Path, per_shard: dict[str, int], every: int = 512,
           seed: int = 0) -> list[ShardTask]:
    key, _ = key_and_dim(ARGS)
    tasks = []
    for shard, n in per_shard.items():
        items = []
        for _ in range(n):
            seed += 1
            items.append((f"{shard}{seed:063x}", str(make_image(images / f"{seed}.png", seed))))
        tasks.append(ShardTask(shard, tuple(items), str(home), key, f"fp-{shard}", ARGS, every))
    return tasks


def test_new_images_of_many_shards_in_one_stream(tmp_path: Path, monkeypatch) -> None:
    tasks = _tasks(tmp_path / "home", tmp_path / "img", {"0": 2, "5": 1, "a": 3})
    fx = extractor_for(ARGS)
    assert fx.cache_key == tasks[0].cache_key  # the planned key is the extractor's
    calls: list[int] = []
    real = type(fx).extract

    def counting(self, paths, progress=None, thumbs=None):
        calls.append(len(paths))
        return real(self, paths, progress, thumbs)

    monkeypatch.setattr(type(fx), "extract", counting)
    results = run_shard_tasks(tasks)
    assert calls == [6]  # one stream for the three shards, nothing left for the tasks
    assert {r["shard"]: r["computed"] for r in results} == {"0": 2, "5": 1, "a": 3}
    assert all(r["reused"] == 0 and r["runtime"] == "torch" for r in results)
    files = Layout(tmp_path / "home")
    for t in tasks:
        store = FeatureStore(files.feature_cache_shard(t.shard), t.cache_key)
        assert store.known() == {h for h, _ in t.items}
        assert not list(store.folder.glob("chunk-*.parquet"))  # compacted
        ref, _ = real(fx, [Path(p) for _, p in t.items])
        np.testing.assert_allclose(store.get([h for h, _ in t.items]), ref, rtol=1e-4,
                                   atol=1e-5)


def test_no_prefetch_beyond_one_checkpoint_or_for_one_shard(tmp_path: Path) -> None:
    many = _tasks(tmp_path / "home", tmp_path / "img", {"1": 3, "2": 3}, every=4)
    assert shard_batch.prefetch_new_features(many) == {}  # 6 > 4: the tasks checkpoint
    one = _tasks(tmp_path / "home2", tmp_path / "img2", {"3": 2})
    assert shard_batch.prefetch_new_features(one) == {}


def test_after_a_prefetch_the_progress_ends_at_what_was_computed(tmp_path: Path) -> None:
    """Shards holding cached images plus a few new ones: the progress lines follow the new
    images to 100 % and never show the cached ones as work waiting at 0 %."""
    home, images = tmp_path / "home", tmp_path / "img"
    old = _tasks(home, images, {"0": 3, "5": 3})
    run_shard_tasks(old)  # cached now
    new = _tasks(home, tmp_path / "img-new", {"0": 1, "5": 1}, seed=100)
    tasks = [ShardTask(o.shard, o.items + n.items, o.home, o.cache_key, f"fp2-{o.shard}",
                       o.extractor_args, o.checkpoint_every) for o, n in zip(old, new)]
    lines: list[str] = []

    def progress(desc: str):
        return progress_reporter(desc, lines.append, every=0.0)

    results = run_shard_tasks(tasks, report=Reporter(info=lines.append, progress=progress))
    assert sum(r["computed"] for r in results) == 2
    shown = [line for line in lines if line.startswith("features:")]
    assert shown and all("/2 " in line for line in shown), shown  # 2 images of work, not 8
    assert shown[0].startswith("features: 0/2 (0%") and shown[-1].startswith("features: 2/2 (100%")
