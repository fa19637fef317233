"""Checks that read data reuse their outcome while what they read is unchanged, and the
feature check reads whole only the shards that changed."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.stages import checks as stage_checks
from xdeg_pipeline.core.stages.checks import features_complete_and_finite, memoised
from xdeg_pipeline.core.storage.atomic import write_parquet
from xdeg_pipeline.core.storage.feature_table import write_feature_table
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.shards import SHARD_KEYS, shard_of
from xdeg_pipeline.core.storage.state import write_state


def test_outcome_reused_until_a_state_or_a_file_changes(tmp_path: Path) -> None:
    files = Layout(tmp_path)
    data = tmp_path / "table.parquet"
    data.write_bytes(b"x" * 10)
    write_state(tmp_path, "knn_edges", {"output_fingerprint": "a"})
    calls: list[int] = []

    def compute():
        calls.append(1)
        return len(calls) == 1, {"calls": len(calls)}

    def run():
        return memoised(files, "demo", ("knn_edges",), [data], compute)

    assert run() == (True, {"calls": 1})
    assert run() == (True, {"calls": 1}) and len(calls) == 1  # reused
    write_state(tmp_path, "knn_edges", {"output_fingerprint": "b"})
    assert run() == (False, {"calls": 2})  # the stage's output changed
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert run() == (False, {"calls": 3})  # the file was rewritten
    files.state_file("check.demo").write_text("{broken")
    assert run() == (False, {"calls": 4})  # an unreadable record: computed again
    data.unlink()
    assert run() == (False, {"calls": 5})  # a file gone


def test_the_feature_check_reads_whole_only_the_shards_that_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = Layout(tmp_path)
    rng = np.random.default_rng(0)
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(200)]
    write_parquet(pd.DataFrame({"name": [f"{h[-6:]}.png" for h in hashes],
                                "content_hash": hashes}), files.raw_images)
    by_shard = {s: [h for h in hashes if shard_of(h) == s] for s in SHARD_KEYS}
    for s, hs in by_shard.items():
        write_feature_table(hs, rng.normal(size=(len(hs), 4)).astype(np.float32),
                            files.image_features_shard(s))
    write_state(tmp_path, "image_features", {"stale_shards": [], "output_fingerprint": "a"})
    read_whole: list[Path] = []
    real = stage_checks.read_feature_table
    monkeypatch.setattr(stage_checks, "read_feature_table",
                        lambda p: read_whole.append(Path(p)) or real(p))

    passed, meta = features_complete_and_finite(files)
    assert passed and meta["missing"] == 0 and len(read_whole) == len(SHARD_KEYS)

    shard = next(s for s, hs in by_shard.items() if hs)
    X = rng.normal(size=(len(by_shard[shard]), 4)).astype(np.float32)
    X[0, 1] = np.inf
    write_feature_table(by_shard[shard], X, files.image_features_shard(shard))
    write_state(tmp_path, "image_features", {"stale_shards": [], "output_fingerprint": "b"})
    read_whole.clear()
    passed, meta = features_complete_and_finite(files)
    assert not passed and meta["rows_with_nan_or_inf"] == 1
    assert read_whole == [files.image_features_shard(shard)], "the other shards' figures kept"

    record = files.state_file("check.feature_shards")
    stamps = {s: {"stamp": f["stamp"]} for s, f in json.loads(record.read_text()).items()}
    record.write_text(json.dumps(stamps))  # stamps that match, figures missing
    write_state(tmp_path, "image_features", {"stale_shards": [], "output_fingerprint": "b2"})
    read_whole.clear()
    passed, meta = features_complete_and_finite(files)  # a record not ours: all read whole
    assert not passed and meta["rows_with_nan_or_inf"] == 1
    assert len(read_whole) == sum(1 for hs in by_shard.values() if hs)

    other = next(s for s, hs in by_shard.items() if hs and s != shard)
    files.image_features_shard(other).unlink()  # its images are now missing
    write_state(tmp_path, "image_features", {"stale_shards": [], "output_fingerprint": "c"})
    passed, meta = features_complete_and_finite(files)
    assert not passed and meta["missing"] == len(by_shard[other])
    assert meta["rows_with_nan_or_inf"] == 1


def test_a_record_that_cannot_be_written_leaves_the_outcome_standing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: the check still answers (its records are only a saving for next time)."""
    import errno

    files = Layout(tmp_path)
    data = tmp_path / "table.parquet"
    data.write_bytes(b"x")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(stage_checks, "write_text", full)
    assert memoised(files, "demo", (), [data], lambda: (True, {"n": 1})) == (True, {"n": 1})
    assert not files.state_file("check.demo").exists()
