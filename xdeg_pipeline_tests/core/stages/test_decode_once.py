"""Decode once: the pixels decoded for an image's features also give its thumbnail, so the
thumbnails stage decodes only what the features did not; features and thumbnail files are
those of the separate paths."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xdeg_pipeline.core.features.loading import BatchDataset, LoadPlan, load_batches
from xdeg_pipeline.core.features.preprocess import preprocess_file
from xdeg_pipeline.core.features.ring import Ring, RingPool
from xdeg_pipeline.core.images import decode
from xdeg_pipeline.core.images.thumbnail import ThumbnailJob
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore, make_thumbnail
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.features import image_features
from xdeg_pipeline.core.stages.ingest import raw_images
from xdeg_pipeline.core.stages.shard_task import ShardTask, extract_shard, key_and_dim
from xdeg_pipeline.core.stages.thumbnails import thumbnails
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline_tests.helpers.collections import make_image
from xdeg_pipeline_tests.helpers.faults import pattern, rotated_portrait

ARGS = (("backbone", "efficientnet_lite0"), ("weights", None), ("device", "cpu"),
        ("batch_size", 4), ("num_workers", 0), ("runtime", "torch"), ("model_cache", None))


def _collection(root: Path) -> list[Path]:
    """Odd shapes and formats: a wide JPEG (DCT-scaled), an EXIF-rotated JPEG, RGBA, small."""
    root.mkdir(parents=True)
    pattern(900, 500, seed=1).save(root / "wide.jpg", quality=90)
    (root / "rotated.jpg").write_bytes(rotated_portrait())
    rgba = pattern(300, 200, seed=2).convert("RGBA")
    rgba.putalpha(Image.new("L", (300, 200), 90))
    rgba.save(root / "rgba.png")
    make_image(root / "small.png", seed=3)
    pattern(333, 777, seed=4).save(root / "tall.webp")
    return sorted(root.iterdir())


@pytest.fixture()
def decodes(monkeypatch) -> list[int]:
    """Every call of the one decoding function, counted (threads included)."""
    calls: list[int] = []
    lock = threading.Lock()
    real = decode.decode_image

    def counting(*args, **kwargs):
        with lock:
            calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(decode, "decode_image", counting)
    return calls


def test_a_new_image_is_decoded_once_per_build(tmp_path: Path, monkeypatch) -> None:
    paths = _collection(tmp_path / "img")
    settings = Settings(home=tmp_path / "home", images_dir=tmp_path / "img", runtime="torch",
                        device="cpu", batch_size=2, num_workers=0)
    raw_images(settings)  # the scan validates each new file on its own (not counted here)
    calls: list[int] = []
    real = decode.decode_image
    monkeypatch.setattr(decode, "decode_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    feats = image_features(settings)
    assert feats.facts["images_computed"] == len(paths) and len(calls) == len(paths)
    thumbs = thumbnails(settings)
    assert len(calls) == len(paths)  # the thumbnails were made from the features' pixels
    assert thumbs.facts["made"] == thumbs.facts["made_by_features"] == len(paths)
    assert thumbs.facts["reused"] == 0
    store = ThumbnailStore(settings.layout.thumbnails_dir)
    for path in paths:  # the thumbnails stage's own file: same size and format
        h = decode.content_hash(path)
        with Image.open(store.path(h)) as mine, \
                Image.open(io.BytesIO(make_thumbnail(path))) as theirs:
            assert (mine.format, mine.size) == (theirs.format, theirs.size) == ("WEBP",
                                                                                 mine.size)
            if path.suffix == ".png":  # no DCT scaling: the very same pixels
                assert np.array_equal(np.asarray(mine), np.asarray(theirs))


@pytest.mark.parametrize("fit", ["pad", "crop", "stretch"])
def test_features_see_the_same_pixels(tmp_path: Path, fit: str, decodes: list[int]) -> None:
    paths = _collection(tmp_path / "img")
    hashes = [decode.content_hash(p) for p in paths]
    ring = Ring(1, len(paths), 224, 0, shared=False, pin=False)
    job = ThumbnailJob.of(tmp_path / "thumbs", 128, hashes)
    ds = BatchDataset(paths, [list(range(len(paths)))], 224, ring, raw_jpeg=False, fit=fit,
                      thumbs=job)
    made: list[tuple[int, bytes]] = []
    for i, path in enumerate(paths):
        assert np.array_equal(ds.pixels(i, made), preprocess_file(path, 224, fit))
    assert [i for i, _ in made] == list(range(len(paths)))
    assert job.write(made) == len(paths) and not any(job.wanted(i) for i in range(len(paths)))
    assert len(decodes) == 2 * len(paths)  # once with its thumbnail, once for the reference


def test_a_shard_task_writes_the_thumbnails_of_what_it_decodes(tmp_path: Path,
                                                                decodes: list[int]) -> None:
    """The task a Dask worker runs (one shard, nothing prefetched) writes them itself."""
    paths = _collection(tmp_path / "img")
    items = tuple((decode.content_hash(p), str(p)) for p in paths)
    home = tmp_path / "home"
    task = ShardTask("3", items, str(home), key_and_dim(ARGS)[0], "fp", ARGS, 512)
    assert extract_shard(task)["computed"] == len(paths) == len(decodes)
    store = ThumbnailStore(Layout(home).thumbnails_dir)
    assert all(store.has(h) for h, _ in items)


def test_loader_processes_write_the_thumbnails(tmp_path: Path) -> None:
    paths = _collection(tmp_path / "img")
    job = ThumbnailJob.of(tmp_path / "thumbs", 128, [decode.content_hash(p) for p in paths])
    batches, _ = load_batches(paths, LoadPlan(batch_size=2, image_size=224, num_workers=1),
                              RingPool(pin=False), thumbs=job)
    assert sum(len(b.idx) for b in batches) == len(paths)
    assert not any(job.wanted(i) for i in range(len(paths)))  # written in the worker
