"""Placing a manifest's images in the collection folder under their names (hard links into
the cache, or copies where links are refused), so that the scan sees an ordinary folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from xdeg_pipeline.core.storage.atomic import atomic_path


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except FileNotFoundError:
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns


def _place(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` as a hard link (a copy where links are refused), atomically."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)


def sync_collection(files: dict[str, Path], folder: Path) -> Path:
    """Make ``folder`` hold exactly ``name -> file`` (hard links or copies); returns ``folder``.

    Entries that no longer belong are removed; unchanged ones are not touched (their mtime stays,
    so the scan reuses its previous rows).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.name not in files:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    for name, source in files.items():
        target = folder / name
        if os.path.islink(target) or not _same_file(source, target):
            _place(Path(source), target)
    return folder
