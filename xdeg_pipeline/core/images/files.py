"""Where each image of raw_images is on disk: one rule for every reader (paths, pictures,
thumbnails, strips)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pandas as pd


class ImageFiles:
    """The image file of each collection name: the file the manifest records (URL manifests:
    column ``path``, absolute or relative to ``images_root``), else ``images_root / name``.
    A path is made when asked (about 9 us each here: 9 s a million, made up front)."""

    def __init__(self, manifest: pd.DataFrame, images_root: Path) -> None:
        self.root = Path(images_root)
        self._recorded: dict[str, object] = (
            dict(zip(manifest["name"].astype(str), manifest["path"]))
            if "path" in manifest.columns else {})

    def of(self, name: str) -> Path:
        """The image file of ``name``."""
        path = self._recorded.get(name)
        if isinstance(path, str) and path:
            return Path(path) if Path(path).is_absolute() else self.root / path
        return self.root / name


class FilesByHash(Mapping[str, Path]):
    """content hash -> the image file of its first name, made when asked: no path object per
    image is held or made up front (a +1 % build and the explorer ask for a few)."""

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
    first: dict[str, str] = {}
    for name, h in sorted(zip(manifest["name"].astype(str), manifest["content_hash"])):
        first.setdefault(str(h), name)
    return FilesByHash(first, ImageFiles(manifest, images_root).of)
