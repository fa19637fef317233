"""FeatureStore: chunked content-hash cache, compaction, crash safety, update_features."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from skimage import data as skdata

from xdeg_pipeline.core.storage.feature_store import (
    CHUNK_GLOB,
    COMPACT_CHUNKS,
    COMPACT_SHARE,
    MAIN_FILE,
    FeatureStore,
    FeatureUpdate,
    safe_key,
    update_features,
)

KEY = "efficientnet_lite0-wabc/def:v1"


def _rows(n: int, dim: int = 8, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"{seed:02d}h{i:04d}" for i in range(n)], rng.normal(size=(n, dim)).astype(np.float32)


class CountingExtractor:
    """Deterministic stand-in for FeatureExtractor: feature = bytes of the file, hashed."""

    dim = 8

    def __init__(self, key: str = KEY, batch: int = 3) -> None:
        self.cache_key = key
        self.batch = batch
        self.seen: list[Path] = []

    def iter_batches(self, paths, progress=None):
        for s in range(0, len(paths), self.batch):
            chunk = list(range(s, min(s + self.batch, len(paths))))
            ok = [i for i in chunk if Path(paths[i]).stat().st_size > 0]
            fails = {i: "empty: zero-byte file" for i in chunk if i not in ok}
            self.seen += [Path(paths[i]) for i in chunk]
            feats = np.array([[len(Path(paths[i]).read_bytes()) + j for j in range(self.dim)]
                              for i in ok], dtype=np.float32).reshape(len(ok), self.dim)
            yield np.array(ok, dtype=np.int64), feats, fails


def test_add_get_known_compact(tmp_path):
    store = FeatureStore(tmp_path, KEY)
    assert store.known() == set() and len(store) == 0
    assert store.folder == tmp_path / safe_key(KEY) and "/" not in safe_key(KEY)
    h1, f1 = _rows(5, seed=1)
    h2, f2 = _rows(4, seed=2)
    store.add(h1, f1)
    store.add(h2, f2)
    assert len(list(store.folder.glob(CHUNK_GLOB))) == 2
    assert (store.folder / "KEY.txt").read_text().strip() == KEY
    order = [h2[3], h1[0], h1[4], h2[0]]
    want = np.stack([f2[3], f1[0], f1[4], f2[0]])
    for s in (store, FeatureStore(tmp_path, KEY)):  # in memory and read back from disk
        assert s.known() == set(h1) | set(h2)
        np.testing.assert_array_equal(s.get(order), want)
        assert s.get(order).dtype == np.float32
    with pytest.raises(KeyError, match="nope"):
        store.get([h1[0], "nope"])

    store.compact()
    assert [p.name for p in store.folder.glob("*.parquet")] == [MAIN_FILE]
    table = pq.read_table(store.folder / MAIN_FILE)
    assert table.schema.field("content_hash").type == pa.string()
    assert table.schema.field("feature").type == pa.list_(pa.float32(), 8)  # fixed size
    again = FeatureStore(tmp_path, KEY)
    np.testing.assert_array_equal(again.get(order), want)
    again.add(*_rows(2, seed=3))
    assert len(again) == 11 and len(FeatureStore(tmp_path, KEY)) == 11
    assert FeatureStore(tmp_path, "other-key").known() == set()  # keys never mix


def test_add_validates(tmp_path):
    store = FeatureStore(tmp_path, KEY)
    hashes, feats = _rows(3)
    with pytest.raises(ValueError):
        store.add(hashes[:2], feats)
    bad = feats.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        store.add(hashes, bad)
    store.add(hashes, feats)
    with pytest.raises(ValueError, match="length 4"):
        store.add(["x"], np.ones((1, 4), np.float32))
    store.add([], np.empty((0, 8), np.float32))
    assert len(list(store.folder.glob(CHUNK_GLOB))) == 1


def test_leftovers_of_a_crash_are_ignored(tmp_path):
    store = FeatureStore(tmp_path, KEY)
    hashes, feats = _rows(4)
    store.add(hashes, feats)
    # a writer killed mid-write leaves a temporary file; a damaged chunk is skipped too
    (store.folder / ".chunk-00000000000000000009-dead.parquet.x1y2.tmp").write_bytes(b"PAR1\0")
    bad = store.folder / "chunk-99999999999999999999-bad.parquet"
    bad.write_bytes(b"garbage")
    reread = FeatureStore(tmp_path, KEY)
    assert reread.known() == set(hashes) and len(reread.unreadable) == 1
    np.testing.assert_array_equal(reread.get(hashes), feats)
    # killed between writing the merged file and deleting the chunks: duplicates, same rows
    chunk = next(p for p in store.folder.glob(CHUNK_GLOB) if p != bad)  # (a uuid may hold "bad")
    saved = chunk.read_bytes()
    reread.compact()
    chunk.write_bytes(saved)
    after = FeatureStore(tmp_path, KEY)
    assert after.known() == set(hashes)
    np.testing.assert_array_equal(after.get(hashes[::-1]), feats[::-1])
    after.compact()
    assert [p.name for p in store.folder.glob("*.parquet")] == [MAIN_FILE]


def test_update_features_reuses_and_dedupes(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    items = []
    for i in range(7):
        p = imgs / f"{i}.bin"
        p.write_bytes(b"x" * (10 + i))
        items.append((f"hash{i}", p))
    dup = imgs / "copy_of_2.bin"
    dup.write_bytes(b"x" * 12)
    (imgs / "empty.bin").write_bytes(b"")
    items += [("hash2", dup), ("hash_empty", imgs / "empty.bin")]
    store = FeatureStore(tmp_path / "cache", KEY)
    fx = CountingExtractor()
    logs: list[str] = []
    res = update_features(store, items, fx, checkpoint_every=2, log=logs.append, compact=False)
    assert isinstance(res, FeatureUpdate)
    assert (res.computed, res.reused) == (7, 0)
    assert res.failed == {"hash_empty": "empty: zero-byte file"}
    assert len(fx.seen) == 8 and dup not in fx.seen  # deduplicated by hash
    assert len(list(store.folder.glob(CHUNK_GLOB))) >= 3  # checkpointed as it went
    np.testing.assert_array_equal(store.get(["hash3"])[0], 13 + np.arange(8))
    assert logs and "8 unique images, 0 cached, 8 to compute" in logs[0]

    fx2 = CountingExtractor()
    res2 = update_features(FeatureStore(tmp_path / "cache", KEY), items, fx2)
    assert (res2.computed, res2.reused) == (0, 7) and fx2.seen == [imgs / "empty.bin"]
    assert [p.name for p in store.folder.glob("*.parquet")] == [MAIN_FILE]
    with pytest.raises(ValueError, match="key"):
        update_features(store, items, CountingExtractor(key="another"))


def test_kill_9_keeps_checkpointed_rows(tmp_path):
    """A run killed with SIGKILL mid-way keeps its written chunks; the next run reuses them."""
    # the child runs CountingExtractor's own source (no test module is imported)
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        import numpy as np
        from xdeg_pipeline.core.storage.feature_store import FeatureStore, update_features
        KEY = {KEY!r}
    """) + inspect.getsource(CountingExtractor) + textwrap.dedent(f"""
        class Dying(CountingExtractor):
            def iter_batches(self, paths, progress=None):
                for n, batch in enumerate(super().iter_batches(paths, progress)):
                    if n == 5:
                        os.kill(os.getpid(), signal.SIGKILL)
                    yield batch

        items = [(f"h{{i}}", Path(p)) for i, p in enumerate(sys.argv[1:])]
        update_features(FeatureStore(Path({str(tmp_path / "cache")!r}), KEY), items, Dying(),
                        checkpoint_every=4)
    """)
    files = []
    for i in range(30):
        p = tmp_path / f"{i}.bin"
        p.write_bytes(b"y" * (i + 1))
        files.append(str(p))
    proc = subprocess.run([sys.executable, "-c", script, *files], capture_output=True,
                          cwd=Path(__file__).resolve().parents[2],  # this checkout's package
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == -9, proc.stderr.decode()
    store = FeatureStore(tmp_path / "cache", KEY)
    kept = store.known()
    # 5 batches of 3 = 15 rows done, checkpoints every 4: 12 written, at most one chunk lost
    assert kept == {f"h{i}" for i in range(12)}
    items = [(f"h{i}", Path(p)) for i, p in enumerate(files)]
    res = update_features(store, items, CountingExtractor())
    assert (res.computed, res.reused) == (18, 12)


def test_update_features_with_the_real_extractor(tmp_path):
    from xdeg_pipeline.core.features.extractor import FeatureExtractor

    a, b = tmp_path / "a.jpg", tmp_path / "b.png"
    Image.fromarray(skdata.chelsea()).save(a)
    Image.fromarray(skdata.coffee()).resize((200, 150)).save(b)
    fx = FeatureExtractor(device="cpu", batch_size=2, num_workers=0)
    store = FeatureStore(tmp_path / "cache", fx.cache_key)
    items = [("ha", a), ("hb", b), ("ha", tmp_path / "a_copy_never_read.jpg")]
    res = update_features(store, items, fx)
    assert (res.computed, res.reused, res.failed) == (2, 0, {})
    feats = FeatureStore(tmp_path / "cache", fx.cache_key).get(["hb", "ha"])
    assert feats.shape == (2, 1280) and np.isfinite(feats).all()
    ref, _ = fx.extract([b, a])
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)
    assert update_features(store, items, fx).computed == 0


def test_a_file_that_does_not_match_its_record_is_not_trusted_and_set_aside(tmp_path):
    home = tmp_path / "home"
    store = FeatureStore(home / "feature_cache" / "shard=0", KEY)
    hashes, feats = _rows(6)
    store.add(hashes[:3], feats[:3])
    store.add(hashes[3:], feats[3:])
    chunks = sorted(store.folder.glob(CHUNK_GLOB))
    assert set(store.records()) == {c.name for c in chunks}
    data = bytearray(chunks[0].read_bytes())  # a flipped byte, a new time, the same size
    data[len(data) // 2] ^= 0x40
    chunks[0].write_bytes(bytes(data))
    fresh = FeatureStore(store.root, KEY)
    assert fresh.known() == set(hashes[3:]) and list(fresh.damaged) == [chunks[0]]
    lines = fresh.set_aside_damaged(home)
    assert len(lines) == 1 and "(feature cache) was damaged: modified after it was written" \
        in lines[0] and lines[0].endswith("its images' features are computed again")
    assert not chunks[0].exists() and list((home / "damaged").rglob(chunks[0].name))
    assert set(fresh.records()) == {chunks[1].name}
    fresh.add(hashes[:3], feats[:3])
    fresh.compact()
    assert set(fresh.records()) == {MAIN_FILE}
    again = FeatureStore(store.root, KEY)
    assert again.known() == set(hashes) and not again.damaged
    np.testing.assert_array_equal(again.get(hashes), feats)


def test_chunks_are_merged_when_due_not_on_every_add(tmp_path):
    """compact(when_due=True) leaves a small addition as its chunk (the main file is not
    rewritten), and merges once the chunks hold COMPACT_SHARE of the main file's rows or
    number COMPACT_CHUNKS; every row stays readable throughout."""
    store = FeatureStore(tmp_path, KEY)
    hashes, feats = _rows(100, seed=1)
    store.add(hashes, feats)
    assert store.compact(when_due=True)  # no main file yet: everything is due
    main = store.folder / MAIN_FILE
    stamp = main.stat().st_mtime_ns
    step = int(COMPACT_SHARE * 100) // 3  # three additions stay under the share
    for i in range(3):
        h, f = _rows(step, seed=10 + i)
        store.add(h, f)
        assert not store.compact(when_due=True)
        hashes, feats = hashes + h, np.concatenate([feats, f])
    assert main.stat().st_mtime_ns == stamp and len(list(store.folder.glob(CHUNK_GLOB))) == 3
    reread = FeatureStore(tmp_path, KEY)
    np.testing.assert_array_equal(reread.get(hashes), feats)
    h, f = _rows(step, seed=20)  # now over the share
    store.add(h, f)
    assert store.compact(when_due=True)
    assert not list(store.folder.glob(CHUNK_GLOB))
    np.testing.assert_array_equal(FeatureStore(tmp_path, KEY).get(hashes + h),
                                  np.concatenate([feats, f]))

    many = FeatureStore(tmp_path / "many", KEY)
    many.add(*_rows(1000, seed=2))
    many.compact()
    for i in range(COMPACT_CHUNKS - 1):
        many.add(*_rows(1, seed=100 + i))
        assert not many.compact(when_due=True)
    many.add(*_rows(1, seed=200))
    assert many.compact(when_due=True)  # the number of chunks
    assert len(FeatureStore(tmp_path / "many", KEY)) == 1000 + COMPACT_CHUNKS


def test_a_missing_key_file_is_written_again(tmp_path):
    """A folder whose KEY.txt a full disk stopped gets it with its next chunk."""
    store = FeatureStore(tmp_path, KEY)
    store.add(*_rows(2, seed=1))
    (store.folder / "KEY.txt").unlink()
    store.add(*_rows(2, seed=2))
    assert (store.folder / "KEY.txt").read_text().strip() == KEY
