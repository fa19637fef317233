"""Atomic writes (write to a temporary file, fsync, rename) and a build lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from xdeg_pipeline.core.storage.layout import Layout


def _file_mode() -> int:
    """The mode a plain ``open(..., "w")`` would give (0666 less the umask), not mkstemp's 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()
TEMP_GLOB = ".*.tmp"


def remove_stale_temp(folder: Path, pattern: str = TEMP_GLOB, recursive: bool = False) -> int:
    """Delete temporary files a killed writer left in ``folder`` (call it holding the lock that
    covers the folder's writers); returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.rglob(pattern) if recursive else folder.glob(pattern):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_with(target: Path, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_parquet(df: pd.DataFrame, target: Path) -> Path:
    """Write a DataFrame as parquet, atomically."""
    return write_with(target, lambda p: df.to_parquet(p, index=False))


def write_bytes(data: bytes, target: Path) -> Path:
    """Write bytes atomically."""
    return write_with(target, lambda p: p.write_bytes(data))


def write_text(text: str, target: Path) -> Path:
    """Write UTF-8 text atomically."""
    return write_with(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_pickle(obj: Any, target: Path) -> Path:
    """Pickle an object atomically."""

    def _dump(p: Path) -> None:
        with open(p, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    return write_with(target, _dump)


class BuildLocked(RuntimeError):
    """Another build holds the lock on this data folder."""


_HELD: dict[tuple[str, int], int] = {}  # (lock file, thread) -> how deep that thread holds it
_LOCK_FDS: set[int] = set()


def _drop_locks_in_child() -> None:
    """In a forked child (a DataLoader worker, say) point the inherited lock descriptors at
    /dev/null: an ``flock`` lives as long as any copy of its descriptor, so a worker orphaned by
    ``kill -9`` of the build would otherwise keep the data folder locked."""
    if _LOCK_FDS:
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            for fd in _LOCK_FDS:
                os.dup2(null, fd)
        finally:
            os.close(null)
    _LOCK_FDS.clear()
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_locks_in_child)


@contextlib.contextmanager
def build_lock(home: Path, name: str = "build", wait: bool = True) -> Iterator[None]:
    """Serialise builds on one data folder with an exclusive ``flock``.

    Re-entrant within a thread. Another thread waits as another process does: each holder has
    its own descriptor, and ``flock`` locks of two descriptors exclude each other also within
    one process (two Dagster steps in the threads of one Dask worker ran at once, and the
    second's release found the first's count gone). Forked children do not inherit it. With
    ``wait=False`` a lock held by another thread or process raises :class:`BuildLocked` at once.
    """
    home.mkdir(parents=True, exist_ok=True)
    lock_file = Layout(home).lock_file(name)
    key = (str(lock_file.resolve()), threading.get_ident())
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    with open(lock_file, "a+") as fh:
        flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fh.fileno(), flags)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise BuildLocked(
                    f"another xdeg build is running on {home} (lock {lock_file}); "
                    "wait for it to finish or set XDEG_HOME to another folder"
                ) from exc
            raise
        _HELD[key] = 1
        _LOCK_FDS.add(fh.fileno())
        if name == "build":  # what a killed build left at the top of the folder
            remove_stale_temp(home)
        try:
            yield
        finally:
            _HELD.pop(key, None)
            _LOCK_FDS.discard(fh.fileno())
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
