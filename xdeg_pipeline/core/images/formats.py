"""The image formats xdeg reads: one table of names, file extensions and magic bytes.

Both the scan (:mod:`.scan`, which tells a broken file from a non-image) and
the downloader (:mod:`xdeg_pipeline.core.sources.remote`, which refuses an HTML page at an image URL
before reading its body) sniff with :func:`sniff_format`. The signatures are those of the
formats' specifications, each one accepted by Pillow's plugin for the format: GIF is ``GIF87a``
or ``GIF89a``, the only two versions (a file that starts ``GIF8`` and then anything else is not
a GIF, for Pillow either).
"""

from __future__ import annotations

from dataclasses import dataclass

Signature = tuple[tuple[int, bytes], ...]  # (offset, bytes) pairs that must all match


@dataclass(frozen=True)
class ImageFormat:
    """One format: Pillow's name, its extensions (the first is given to downloaded files) and
    its signatures (any one of them identifies the format)."""

    name: str
    extensions: tuple[str, ...]
    signatures: tuple[Signature, ...]

    def matches(self, head: bytes) -> bool:
        """Whether a file's first bytes carry one of this format's signatures."""
        return any(
            all(head[at : at + len(magic)] == magic for at, magic in signature)
            for signature in self.signatures
        )


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("JPEG", (".jpg", ".jpeg"), (((0, b"\xff\xd8\xff"),),)),
    ImageFormat("PNG", (".png",), (((0, b"\x89PNG\r\n\x1a\n"),),)),
    ImageFormat("GIF", (".gif",), (((0, b"GIF87a"),), ((0, b"GIF89a"),))),
    ImageFormat("WEBP", (".webp",), (((0, b"RIFF"), (8, b"WEBP")),)),
    ImageFormat("BMP", (".bmp",), (((0, b"BM"),),)),
    ImageFormat("TIFF", (".tif", ".tiff"), (((0, b"II*\x00"),), ((0, b"MM\x00*"),))),
)

ALLOWED_FORMATS: tuple[str, ...] = tuple(f.name for f in FORMATS)  # what Pillow may decode
EXTENSIONS: dict[str, tuple[str, ...]] = {f.name: f.extensions for f in FORMATS}
IMAGE_EXTENSIONS: frozenset[str] = frozenset(e for f in FORMATS for e in f.extensions)
SNIFF_BYTES: int = 16  # enough for every signature above
FORMAT_NAMES: str = "JPEG/PNG/GIF/WebP/BMP/TIFF"  # for messages


def sniff_format(head: bytes) -> str | None:
    """The format whose signature starts ``head`` (a file's first bytes), or None."""
    return next((f.name for f in FORMATS if f.matches(head)), None)


def format_of_suffix(suffix: str) -> str | None:
    """The format a file extension (``.JPG``, ``.png``...) stands for, or None."""
    suffix = suffix.lower()
    return next((f.name for f in FORMATS if suffix in f.extensions), None)
