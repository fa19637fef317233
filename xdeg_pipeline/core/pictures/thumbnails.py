"""Thumbnails: one small WebP per content hash, made once and kept (a content-addressed cache).

``<root>/webp<size>/<hash[:2]>/<hash>.webp`` holds the image scaled to fit a ``size`` square
(aspect kept, transparency on white as everywhere in xdeg). A build makes the thumbnails of the
hashes that have none yet and nothing else; a file for a hash never changes, so a page may cache
it for ever. Pictures for the map are packed from these files into atlases
(:mod:`xdeg_pipeline.core.pictures.atlases`).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from xdeg_pipeline.core.storage.atomic import write_bytes

THUMB_SIZE = 128
WEBP_QUALITY = 80
_HASH = re.compile(r"[0-9a-f]{64}")
_CHUNK = 64


def is_content_hash(text: object) -> bool:
    """True for a sha256 hex digest (64 lowercase hex characters): the only key a file has."""
    return isinstance(text, str) and _HASH.fullmatch(text) is not None


def make_thumbnail(path: Path, size: int = THUMB_SIZE) -> bytes:
    """WebP bytes of the image at ``path`` fitted into a ``size`` square (raises ImageRejected)."""
    from xdeg_pipeline.core.images.decode import load_rgb

    img = load_rgb(Path(path), max_side=size * 2)
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
    return buf.getvalue()


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
        self.dir = Path(root) / f"webp{self.size}"

    def path(self, content_hash: str) -> Path:
        """The file of a hash (ValueError for anything that is not a sha256 digest)."""
        if not is_content_hash(content_hash):
            raise ValueError("not a content hash")
        return self.dir / content_hash[:2] / f"{content_hash}.webp"

    def has(self, content_hash: str) -> bool:
        return self.path(content_hash).is_file()

    def read(self, content_hash: str) -> bytes | None:
        """The WebP bytes of a hash, or None when it has no thumbnail."""
        try:
            return self.path(content_hash).read_bytes()
        except FileNotFoundError:
            return None

    def open(self, content_hash: str) -> Image.Image | None:
        """The thumbnail as an RGB image, or None."""
        data = self.read(content_hash)
        if data is None:
            return None
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB")

    def build(
        self,
        items: Iterable[tuple[str, Path]],
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ThumbnailStats:
        """Make the missing thumbnails of ``(content_hash, image file)`` pairs."""
        stats = ThumbnailStats()
        todo: dict[str, Path] = {}
        for content_hash, path in items:
            if content_hash in todo:
                continue
            if self.has(content_hash):
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
            for content_hash, data, reason in chunk_result:
                if data is None:
                    stats.failed[content_hash] = reason
                else:
                    write_bytes(data, self.path(content_hash))
                    stats.made += 1
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
