"""The one table of image formats: its signatures against Pillow's own, and both sniffers
(the scan's and the downloader's) reading it the same way."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from xdeg_pipeline.core.images import formats as image_formats
from xdeg_pipeline.core.images.formats import (
    ALLOWED_FORMATS,
    EXTENSIONS,
    FORMATS,
    IMAGE_EXTENSIONS,
    SNIFF_BYTES,
    format_of_suffix,
    sniff_format,
)
from xdeg_pipeline.core.images.scan import ImageRejected, load_rgb, scan_collection


def _pillow_accepts(fmt: str, head: bytes) -> bool:
    Image.init()
    return bool(Image.OPEN[fmt][1](head))


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 90)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ALLOWED_FORMATS)
def test_a_file_pillow_writes_is_sniffed_as_its_format(fmt: str) -> None:
    head = _encoded(fmt)[:SNIFF_BYTES]
    assert sniff_format(head) == fmt
    assert _pillow_accepts(fmt, head)


def test_every_signature_is_one_pillow_accepts() -> None:
    for f in FORMATS:
        for signature in f.signatures:
            head = bytearray(b"VP8 " * (SNIFF_BYTES // 4))  # WebP: a chunk Pillow knows
            for at, magic in signature:
                head[at : at + len(magic)] = magic
            assert sniff_format(bytes(head)) == f.name, signature
            assert _pillow_accepts(f.name, bytes(head)), (f.name, signature)


def test_gif_is_gif87a_or_gif89a_only() -> None:
    for head in (b"GIF87a\x08\x00", b"GIF89a\x08\x00"):
        assert sniff_format(head) == "GIF" and _pillow_accepts("GIF", head)
    for head in (b"GIF88a\x08\x00", b"GIF8\x00\x00\x00\x00", b"GIF"):
        assert sniff_format(head) is None and not _pillow_accepts("GIF", head), head
    assert sniff_format(b"<!DOCTYPE html>") is None and sniff_format(b"") is None


def test_one_table_for_names_and_extensions() -> None:
    assert list(EXTENSIONS) == list(ALLOWED_FORMATS) == ["JPEG", "PNG", "GIF", "WEBP", "BMP",
                                                         "TIFF"]
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
    assert format_of_suffix(".JPEG") == "JPEG" and format_of_suffix(".tif") == "TIFF"
    assert format_of_suffix(".svg") is None
    assert image_formats.FORMAT_NAMES == "JPEG/PNG/GIF/WebP/BMP/TIFF"


@pytest.mark.parametrize(("data", "reason"), [
    (b"GIF89a" + b"\x00\xff" * 40, "corrupt"),  # a GIF's signature, a broken header
    (b"GIF8" + b"\x00\xff" * 40, "not_an_image"),  # not a GIF signature at all
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
    (b"<html><body>gone</body></html>", "not_an_image"),
])
def test_scan_tells_broken_from_not_an_image_by_the_table(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "x.gif"
    path.write_bytes(data)
    with pytest.raises(ImageRejected) as info:
        load_rgb(path)
    assert info.value.reason == reason
    rejected = scan_collection(tmp_path).rejected
    assert rejected["reason"].tolist() == [reason]
