"""Where each image of raw_images is on disk: one rule for every reader (paths, pictures,
thumbnails, strips)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd


def _recorded(path: object, images_root: Path) -> Path | None:
    """A manifest's recorded file (absolute, or relative to ``images_root``); None if none."""
    if not isinstance(path, str) or not path:
        return None
    return Path(path) if Path(path).is_absolute() else Path(images_root) / path


def recorded_files(manifest: pd.DataFrame, images_root: Path) -> dict[str, Path]:
    """The image file the manifest records for a name (URL manifests: column ``path``,
    absolute or relative to ``images_root``)."""
    files: dict[str, Path] = {}
    if "path" in manifest.columns:
        for n, p in zip(manifest["name"], manifest["path"]):
            if (f := _recorded(p, images_root)) is not None:
                files[n] = f
    return files


def image_file(name: str, recorded: dict[str, Path], images_root: Path) -> Path:
    """The image file of a collection name: the recorded one, else ``images_root / name``."""
    return recorded.get(name) or Path(images_root) / name


class FilesByHash(Mapping[str, Path]):
    """content_hash -> the file of its first name (in name order): one file per image, made
    into a path when asked (a +1 % build asks for the new images' only: 40 us a path, 40 s
    a build at a million images when all were made)."""

    def __init__(self, manifest: pd.DataFrame, images_root: Path) -> None:
        self._root = Path(images_root)
        names = manifest["name"].astype(str)
        self._first: dict[str, str] = {}
        for name, h in sorted(zip(names, manifest["content_hash"])):
            self._first.setdefault(str(h), name)
        self._recorded = dict(zip(names, manifest["path"])) if "path" in manifest else {}

    def __getitem__(self, content_hash: str) -> Path:
        name = self._first[content_hash]
        return _recorded(self._recorded.get(name), self._root) or self._root / name

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)


def files_by_hash(manifest: pd.DataFrame, images_root: Path) -> FilesByHash:
    """content_hash -> the file of its first name (in name order): one file per image."""
    return FilesByHash(manifest, images_root)
