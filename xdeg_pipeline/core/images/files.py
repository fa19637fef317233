"""Where each image of raw_images is on disk: one rule for every reader (paths, pictures,
thumbnails, strips)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def recorded_files(manifest: pd.DataFrame, images_root: Path) -> dict[str, Path]:
    """The image file the manifest records for a name (URL manifests: column ``path``,
    absolute or relative to ``images_root``)."""
    files: dict[str, Path] = {}
    if "path" in manifest.columns:
        for n, p in zip(manifest["name"], manifest["path"]):
            if isinstance(p, str) and p:
                files[n] = Path(p) if Path(p).is_absolute() else Path(images_root) / p
    return files


def image_file(name: str, recorded: dict[str, Path], images_root: Path) -> Path:
    """The image file of a collection name: the recorded one, else ``images_root / name``."""
    return recorded.get(name) or Path(images_root) / name


def files_by_hash(manifest: pd.DataFrame, images_root: Path) -> dict[str, Path]:
    """content_hash -> the file of its first name (in name order): one file per image."""
    recorded = recorded_files(manifest, images_root)
    out: dict[str, Path] = {}
    for name, h in sorted(zip(manifest["name"].astype(str), manifest["content_hash"])):
        out.setdefault(str(h), image_file(name, recorded, images_root))
    return out
