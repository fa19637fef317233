"""A thumbnail from a decoded image: one rule for whoever decoded it (the thumbnails stage, or
the feature stage's loaders, which decode each new image once for both).

``<root>/webp<size>/<hash[:2]>/<hash>.webp`` holds the image fitted into a ``size`` square,
aspect kept, never enlarged. Its pixel size is a function of the image's full upright size
alone (:func:`thumb_size`, Pillow's ``thumbnail`` rounding), so every decoder gives the same
size; the pixels are those of one chain: at most ``2 * size`` on the long side (bicubic), then
Lanczos to the final size, encoded as WebP.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from xdeg_pipeline.core.storage.atomic import write_bytes

THUMB_SIZE = 128
WEBP_QUALITY = 80
_HASH = re.compile(r"[0-9a-f]{64}")


def is_content_hash(text: object) -> bool:
    """True for a sha256 hex digest (64 lowercase hex characters): the only key a file has."""
    return isinstance(text, str) and _HASH.fullmatch(text) is not None


def thumbnail_file(root: Path, size: int, content_hash: str) -> Path:
    """Where the thumbnail of a content hash lives (the caller checks the hash)."""
    return Path(root) / f"webp{int(size)}" / content_hash[:2] / f"{content_hash}.webp"


def thumb_size(width: int, height: int, size: int) -> tuple[int, int]:
    """The size of a ``width x height`` image fitted into a ``size`` square (aspect kept, never
    enlarged), rounded as Pillow's ``Image.thumbnail`` rounds."""
    if size >= width and size >= height:
        return width, height
    aspect = width / height

    def nearest(value: float, err) -> int:
        return max(min(math.floor(value), math.ceil(value), key=err), 1)

    if 1 >= aspect:  # x / y of the square >= aspect: the height is the long side
        return nearest(size * aspect, lambda n: abs(aspect - n / size)), size
    return size, nearest(size / aspect, lambda n: 0 if n == 0 else abs(aspect - size / n))


def thumbnail_webp(img: Image.Image, full: tuple[int, int], size: int = THUMB_SIZE,
                   enlarge: bool = False) -> bytes | None:
    """WebP bytes of a decoded upright RGB image whose full size is ``full``; ``None`` when
    ``img`` was decoded smaller than the thumbnail, unless ``enlarge``. ``img`` is kept."""
    target = thumb_size(*full, size)
    if not enlarge and (img.width < target[0] or img.height < target[1]):
        return None
    work = img
    if max(img.size) > 2 * size:  # what a decode at max_side = 2 * size gives
        work = img.copy()
        work.thumbnail((2 * size, 2 * size))
    if work.size != target:
        work = work.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    buf = io.BytesIO()
    work.save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
    return buf.getvalue()


@dataclass(frozen=True)
class ThumbnailJob:
    """Thumbnails to make while decoding: ``hashes[i]`` is the content hash of the i-th path
    handed to the loaders. Picklable (loader processes, Dask workers write the files)."""

    root: str
    size: int
    hashes: tuple[str, ...]

    @classmethod
    def of(cls, root: Path | str, size: int, hashes: list[str] | tuple[str, ...]
           ) -> ThumbnailJob:
        return cls(str(root), int(size), tuple(hashes))

    def wanted(self, i: int) -> bool:
        """Whether the i-th image still needs its thumbnail (only a content hash names one)."""
        h = self.hashes[i]
        return is_content_hash(h) and not thumbnail_file(Path(self.root), self.size, h).is_file()

    def save(self, i: int, img: Image.Image, full: tuple[int, int]) -> bool:
        """Write the i-th image's thumbnail from its decoded pixels (atomic); ``False`` when
        it could not (too small a decode, an encoder or disk error): the thumbnails stage
        makes what is missing, and says why."""
        try:
            data = thumbnail_webp(img, full, self.size)
            if data is not None:
                write_bytes(data, thumbnail_file(Path(self.root), self.size, self.hashes[i]))
                return True
        except Exception:  # noqa: BLE001 - a thumbnail never costs an image its features
            pass
        return False
