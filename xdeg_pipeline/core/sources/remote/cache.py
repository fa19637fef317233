"""The URL-keyed download cache: one complete file ``<sha256(url)>.<ext>`` per URL."""

from __future__ import annotations

import os
from pathlib import Path

from xdeg_pipeline.core.images.formats import IMAGE_EXTENSIONS
from xdeg_pipeline.core.storage.atomic import remove_stale_temp


def cached_files(folder: Path) -> dict[str, Path]:
    """Cache key -> file, for every complete file of the cache folder."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        stem, suffix = os.path.splitext(entry.name)
        if suffix in IMAGE_EXTENSIONS and len(stem) == 64:
            out[stem] = Path(entry.path)
    return out


def clean_partial_files(folder: Path) -> int:
    """Remove temporaries left by a killed download (``.<name>.<random>.tmp``); their count."""
    return remove_stale_temp(folder)
