"""A small, real disk for the tests of a full one: a tmpfs mounted in the test's folder (needs
root; the test is skipped where none can be mounted), resized or filled as the test goes."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True, check=False)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """``where`` (made here) holding a tmpfs of ``size`` until the block ends."""
    where.mkdir(parents=True, exist_ok=True)
    done = mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        umount(where)


def resize(where: Path, kib: int) -> None:
    assert mount("-o", f"remount,size={kib}k", str(where)).returncode == 0


def fill(where: Path) -> Path:
    """Fill the disk holding ``where`` to its last byte; returns the filler (delete it to free
    the space)."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for block in (2**20, 2**12, 1):
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler
