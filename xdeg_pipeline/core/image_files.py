"""Where each image of a manifest is on disk (one rule for every reader of raw_images)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def manifest_files(manifest: pd.DataFrame, images_root: Path) -> dict[str, Path]:
    """name -> image file: the manifest's ``path`` (a URL collection's download, absolute or
    relative to ``images_root``) where it has one, else ``images_root / name``."""
    root = Path(images_root)
    paths = manifest["path"] if "path" in manifest.columns else [None] * len(manifest)
    out: dict[str, Path] = {}
    for name, p in zip(manifest["name"], paths):
        if isinstance(p, str) and p:
            out[str(name)] = Path(p) if Path(p).is_absolute() else root / p
        else:
            out[str(name)] = root / str(name)
    return out


def files_by_hash(manifest: pd.DataFrame, images_root: Path) -> dict[str, Path]:
    """content_hash -> the file of its first name (in name order): one file per image."""
    files = manifest_files(manifest, images_root)
    out: dict[str, Path] = {}
    for name, h in sorted(zip(manifest["name"].astype(str), manifest["content_hash"])):
        out.setdefault(str(h), files[name])
    return out
