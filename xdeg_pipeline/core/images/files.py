"""Where each image of raw_images is on disk: one rule for every reader (paths, pictures,
thumbnails, strips)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
    """content hash -> the image file of its first name, made when asked: no path object per
    image is held or made (40 us a path: a +1 % build and the explorer ask for a few)."""

    def __init__(self, first_name: dict[str, str], path_of: Callable[[str], Path]) -> None:
        self.first_name, self.path_of = first_name, path_of

    def __getitem__(self, content_hash: str) -> Path:
        return self.path_of(self.first_name[content_hash])

    def __contains__(self, content_hash: object) -> bool:
        return content_hash in self.first_name

    def __iter__(self) -> Iterator[str]:
        return iter(self.first_name)

    def __len__(self) -> int:
        return len(self.first_name)


def files_by_hash(manifest: pd.DataFrame, images_root: Path) -> FilesByHash:
    """content_hash -> the file of its first name (in name order): one file per image."""
    root, names = Path(images_root), manifest["name"].astype(str)
    first: dict[str, str] = {}
    for name, h in sorted(zip(names, manifest["content_hash"])):
        first.setdefault(str(h), name)
    recorded = dict(zip(names, manifest["path"])) if "path" in manifest else {}
    return FilesByHash(first, lambda name: _recorded(recorded.get(name), root) or root / name)
