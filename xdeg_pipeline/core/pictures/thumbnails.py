"""Thumbnails: one small WebP per content hash, made once and kept (a content-addressed cache).

``<root>/webp<size>/<hash[:2]>/<hash>.webp`` holds the image scaled to fit a ``size`` square
(aspect kept, transparency on white as everywhere in xdeg). A build makes the thumbnails of the
hashes that have none yet and nothing else: the feature stage's loaders make those of the images
they decode (one decode per new image), the thumbnails stage the rest (images whose features
came from the cache, decoders that keep no pixels on the CPU). A file for a hash never changes,
so a page may cache it for ever. Pictures for the map are packed from these files into atlases
(:mod:`xdeg_pipeline.core.pictures.atlases`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from xdeg_pipeline.core.images.thumbnail import (
    THUMB_SIZE,
    WEBP_QUALITY,
    is_content_hash,
    thumbnail_file,
    thumbnail_webp,
    write_files,
)

__all__ = ["THUMB_SIZE", "WEBP_QUALITY", "ThumbnailStats", "ThumbnailStore", "is_content_hash",
           "make_thumbnail"]

_CHUNK = 64


def make_thumbnail(path: Path, size: int = THUMB_SIZE) -> bytes:
    """WebP bytes of the image at ``path`` fitted into a ``size`` square (raises ImageRejected);
    the feature stage's loaders make the same file from the pixels they decoded
    (:mod:`xdeg_pipeline.core.images.thumbnail`)."""
    from xdeg_pipeline.core.images.decode import load_rgb_sized

    img, full = load_rgb_sized(Path(path), max_side=size * 2)
    data = thumbnail_webp(img, full, size, enlarge=True)
    assert data is not None  # enlarge: always bytes
    return data


@dataclass
class ThumbnailStats:
    """What a build did: thumbnails made, reused, and the hashes that failed (with why)."""

    made: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class ThumbnailStore:
    """The thumbnail files of one size under ``root``."""

    def __init__(self, root: Path, size: int = THUMB_SIZE) -> None:
        self.size = int(size)
        self.root = Path(root)
        self.dir = self.root / f"webp{self.size}"
        self.damaged: set[str] = set()  # hashes whose file did not decode (removed)

    def path(self, content_hash: str) -> Path:
        """The file of a hash (ValueError for anything that is not a sha256 digest)."""
        if not is_content_hash(content_hash):
            raise ValueError("not a content hash")
        return thumbnail_file(self.root, self.size, content_hash)

    def has(self, content_hash: str) -> bool:
        return self.path(content_hash).is_file()

    def present(self) -> set[str]:
        """The hashes that have a thumbnail file: one listing of the store's folders instead of
        a look-up per image (4,000 images: about 0.02 s against 0.2 s)."""
        found: set[str] = set()
        try:
            folders = [entry.path for entry in os.scandir(self.dir) if entry.is_dir()]
        except FileNotFoundError:
            return found
        for folder in folders:
            with os.scandir(folder) as entries:
                found.update(entry.name[:-5] for entry in entries
                             if entry.name.endswith(".webp") and entry.is_file())
        return found

    def read(self, content_hash: str) -> bytes | None:
        """The WebP bytes of a hash, or None when it has no thumbnail."""
        try:
            return self.path(content_hash).read_bytes()
        except FileNotFoundError:
            return None

    def open(self, content_hash: str) -> Image.Image | None:
        """The thumbnail as an RGB image, or None. A file that does not decode (damaged on
        disk) is removed and noted in :attr:`damaged`, so a build makes it again."""
        data = self.read(content_hash)
        if data is None:
            return None
        try:
            with Image.open(io.BytesIO(data)) as im:
                return im.convert("RGB")
        except (OSError, SyntaxError, ValueError):  # UnidentifiedImageError is an OSError
            self.path(content_hash).unlink(missing_ok=True)
            self.damaged.add(content_hash)
            return None

    def build(
        self,
        items: Iterable[tuple[str, Path]],
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        present: set[str] | None = None,
    ) -> ThumbnailStats:
        """Make the missing thumbnails of ``(content_hash, image file)`` pairs (``present``:
        the hashes that have one, :meth:`present`, listed here when not given)."""
        stats = ThumbnailStats()
        present = self.present() if present is None else present
        todo: dict[str, Path] = {}
        for content_hash, path in items:
            if content_hash in todo:
                continue
            if content_hash in present:
                stats.reused += 1
            else:
                todo[content_hash] = Path(path)
        chunks = _chunks(list(todo.items()), _CHUNK)
        workers = min(workers or os.cpu_count() or 1, len(chunks))
        done = 0
        results = (
            map(_thumb_chunk, chunks, [self.size] * len(chunks))
            if workers <= 1
            else _pool_map(workers, chunks, self.size)
        )
        for chunk_result in results:
            made = [(h, data) for h, data, _ in chunk_result if data is not None]
            for content_hash, data, reason in chunk_result:
                if data is None:
                    stats.failed[content_hash] = reason
            errors = [e for e in write_files([(self.path(h), d) for h, d in made]) if e]
            if errors:  # a thumbnail that cannot be written stops the stage, as a write does
                raise errors[0]
            stats.made += len(made)
            done += len(chunk_result)
            if progress is not None:
                progress(done, len(todo))
        return stats


def _chunks(items: Sequence, n: int) -> list[list]:
    return [list(items[i : i + n]) for i in range(0, len(items), n)]


def _pool_map(workers: int, chunks: list[list], size: int):
    """Chunks in worker threads: Pillow releases the GIL while it decodes, resizes and
    encodes, and threads need no ``__main__`` guard in the caller (processes would)."""
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(_thumb_chunk, chunks, [size] * len(chunks))


def _thumb_chunk(chunk: list[tuple[str, Path]], size: int) -> list[tuple[str, bytes | None, str]]:
    """Thumbnails of one chunk: (hash, WebP bytes or None, reason when None)."""
    from xdeg_pipeline.core.images.decode import ImageRejected

    out = []
    for content_hash, path in chunk:
        try:
            out.append((content_hash, make_thumbnail(path, size), ""))
        except ImageRejected as exc:
            out.append((content_hash, None, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the others
            out.append((content_hash, None, f"{type(exc).__name__}: {exc}"[:200]))
    return out
