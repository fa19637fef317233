"""Atomic writes leave the previous file on failure; the build lock serialises processes and
threads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from xdeg_pipeline.core.storage.atomic import BuildLocked, build_lock, write_parquet, write_with


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), target)

    def broken(p: Path) -> None:
        p.write_bytes(b"half a file")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_with(target, broken)
    assert pd.read_parquet(target)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_lock_is_reentrant_in_process(tmp_path: Path) -> None:
    with build_lock(tmp_path), build_lock(tmp_path), build_lock(tmp_path, wait=False):
        pass


def test_threads_of_one_process_take_the_lock_in_turn(tmp_path: Path) -> None:
    """Two threads of one process (two Dagster steps in one Dask worker) hold the lock one
    after the other, each re-entrantly; one asking without waiting is told it is held."""
    held, inside, order = threading.Event(), [], []

    def first() -> None:
        with build_lock(tmp_path), build_lock(tmp_path):
            inside.append("first")
            held.set()
            time.sleep(0.5)
            order.append(("first out", list(inside)))
            inside.remove("first")

    def second() -> None:
        held.wait(10)
        with build_lock(tmp_path):
            order.append(("second in", list(inside)))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    held.wait(10)
    with pytest.raises(BuildLocked):
        with build_lock(tmp_path, wait=False):
            pass
    for t in threads:
        t.join(30)
    assert order == [("first out", ["first"]), ("second in", [])]


def test_lock_held_by_other_process_is_reported(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; "
        "from xdeg_pipeline.core.storage.atomic import build_lock\n"
        "with build_lock(Path(sys.argv[1])):\n"
        "    print('held', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(BuildLocked, match="another xdeg build is running"):
            with build_lock(tmp_path, wait=False):
                pass
    finally:
        proc.kill()
        proc.wait()
    with build_lock(tmp_path, wait=False):  # free again (how fast: benchmarks.guards)
        pass


def test_written_files_get_the_usual_mode_not_0600(tmp_path: Path) -> None:
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    out = write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask != 0o600


def test_build_lock_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    stale = tmp_path / ".image_features.parquet.abc123.tmp"
    stale.write_bytes(b"half a file")
    keep = tmp_path / "image_features.parquet"
    keep.write_bytes(b"good")
    with build_lock(tmp_path):
        assert not stale.exists() and keep.read_bytes() == b"good"
