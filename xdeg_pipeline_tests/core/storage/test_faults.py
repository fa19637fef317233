"""Faults said in one line: the sentences, and the stage runner's on a really full disk."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from xdeg_pipeline.core.stage import Outcome, Stage, StageRunner
from xdeg_pipeline.core.storage.faults import DataFolderFault, describe, describe_os_error
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline_tests.helpers.small_disk import small_tmpfs


def test_sentences_name_the_fault_the_path_and_what_to_do(tmp_path: Path) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/data/.knn_edges.parquet.x.tmp")
    assert describe_os_error(full, "writing knn_edges") == (
        "the disk holding /data is full (No space left on device) while writing knn_edges; the "
        "work saved before it is kept: free space and run `xdeg build` again")
    ro = OSError(errno.EROFS, "Read-only file system", "/data/.build.lock")
    assert describe_os_error(ro).startswith("/data is on a read-only file system")
    denied = OSError(errno.EACCES, "Permission denied", "/data/state")
    assert "permission denied on /data/state" in describe_os_error(denied)
    gone = FileNotFoundError(errno.ENOENT, "No such file or directory", "/share/a.png")
    assert describe_os_error(gone, images_root=tmp_path / "share").startswith(
        f"the collection folder {tmp_path / 'share'} is gone")
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = sqlite3.OperationalError("disk I/O error")
    line = describe(wrapped, home=Path("/data"))
    assert line.startswith("the Dagster instance's database in /data/dagster failed (disk I/O")
    assert describe(ValueError("no")) is None


def test_a_full_disk_while_a_stage_writes_is_one_sentence(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", "256k") as where:
        files = Layout(where / "home")
        big = Stage("demo", lambda _: Outcome(writes={files.home / "big.bin": b"x" * 2**20}),
                    params=(1,), outputs=(files.home / "big.bin",))
        with pytest.raises(DataFolderFault) as caught:
            StageRunner(files).run(big)
        assert str(caught.value) == (
            f"the disk holding {files.home} is full (No space left on device) while writing "
            "demo; the work saved before it is kept: free space and run `xdeg build` again")
        assert read_state(files.home, "demo") == {}  # no state for outputs not in place
        assert not list(files.home.glob(".*.tmp"))


def test_a_sqlite_io_error_on_a_full_disk_says_full(tmp_path, monkeypatch) -> None:
    import shutil
    import sqlite3

    from xdeg_pipeline.core.storage.faults import describe_sqlite_error

    error = sqlite3.OperationalError("disk I/O error")
    assert "failed (disk I/O error)" in describe_sqlite_error(error, tmp_path)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=4096))
    assert f"the disk holding {tmp_path / 'dagster'} is full (disk I/O error" in \
        describe_sqlite_error(error, tmp_path)
