"""A folder of odd, hostile and broken image files, with the outcome a scan must give each.

``make_fault_collection(root)`` returns ``{name: outcome}`` for every entry it creates, where
``name`` is the manifest name (posix, relative to ``root``; non-UTF-8 bytes written ``\\xNN``)
and ``outcome`` is ``"ok"`` (in the manifest), ``"ignored"`` (in neither table: hidden or not an
image extension) or a rejection reason of ``core.images.scan`` (in the rejected table).
``DUPLICATES`` lists names with identical bytes. ``vanish_after_listing`` simulates files that
disappear between the listing and the reading.

Everything is small (well under 1 MB in all) and built in a fraction of a second; nothing
decodes to more than a few megabytes. The folder holds a FIFO (``bad/fifo.jpg``), symlinks and
a mode-000 file: copy it with care (``shutil.copytree`` would block on the FIFO).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from xdeg_pipeline.core.images import scan as images

DUPLICATES: tuple[str, ...] = ("dup/original.png", "dup/copy.png", "dup/nested/copy again.png")
NON_UTF8_RAW: bytes = b"names/latin1_caf\xe9.png"  # the on-disk bytes of the non-UTF-8 name
NON_UTF8_NAME: str = "names/latin1_caf\\xe9.png"  # its manifest name
HOSTILE_NAMES: tuple[str, ...] = (
    "names/<script>alert(1)</script>.png",  # the '/' makes '<script>alert(1)<' a folder
    "names/a \"quoted\" 'name'.png",
    "names/  spaces  everywhere .png",
    "names/ünïcödé 日本語 😀.png",
    "names/amp&amp;semi;colon%20.png",
    "names/new\nline\ttab.png",
)


# --------------------------------------------------------------------------- builders


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG file from an IHDR description and already-compressed IDAT data."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def rgb16_png(width: int = 32, height: int = 8) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one): red ramps 0..65535 left to right."""
    px = np.zeros((height, width, 3), dtype=">u2")
    px[..., 0] = np.linspace(0, 65535, width).astype(np.uint16)[None, :]
    px[..., 2] = 30000
    raw = b"".join(b"\x00" + px[y].tobytes() for y in range(height))
    return png_bytes(width, height, 16, 2, zlib.compress(raw))


def bomb_header_png(side: int = 100_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (the IDAT is a few bytes)."""
    return png_bytes(side, side, 8, 0, zlib.compress(b"\x00" * 64))


@functools.cache
def bomb_real_png(side: int = 10_000) -> bytes:
    """A valid ``side`` x ``side`` black greyscale PNG (~100 KB for 10,000; 1e8 pixels)."""
    comp = zlib.compressobj(9)
    block = b"\x00" * ((side + 1) * 100)
    parts = [comp.compress(block) for _ in range(side // 100)]
    parts.append(comp.compress(b"\x00" * ((side + 1) * (side % 100))))
    parts.append(comp.flush())
    return png_bytes(side, side, 8, 0, b"".join(parts))


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    """Encode a Pillow image to bytes."""
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def pattern(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth colourful RGB image (compresses well, survives JPEG)."""
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y + seed * 37) % 256],
        axis=-1,
    ).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def rotated_portrait(orientation: int = 6) -> bytes:
    """A JPEG stored as 40x80 (portrait), top half white, bottom half black, tagged with an EXIF
    Orientation. With 6 ("rotate 90 degrees clockwise to view") it is an 80x40 landscape whose
    right half is white once upright."""
    im = Image.new("RGB", (40, 80), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def ok_files() -> dict[str, bytes]:
    """Odd but valid files: name -> bytes."""
    grey16 = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(0, (0, 0, 8, 16))  # left half index 0 = red, made transparent below
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (8, 0, 16, 16))  # right half fully transparent
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    jpeg = encode(pattern(), "JPEG", quality=90)
    return {
        "ok/rgb.jpg": jpeg,
        "ok/progressive.jpg": encode(pattern(seed=1), "JPEG", progressive=True),
        "ok/upper_case.JPEG": encode(pattern(seed=2), "JPEG"),
        "ok/cmyk.jpg": encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"),
        "ok/grey16.png": encode(Image.fromarray(grey16), "PNG"),
        "ok/rgb16.png": rgb16_png(),
        "ok/grey8.png": encode(pattern().convert("L"), "PNG"),
        "ok/bilevel.png": encode(pattern().convert("1"), "PNG"),
        "ok/palette_transparent.png": encode(pal, "PNG", transparency=0),
        "ok/rgba.png": encode(rgba, "PNG"),
        "ok/la.png": encode(Image.new("LA", (8, 8), (0, 0)), "PNG"),
        "ok/animated.gif": encode(
            frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0
        ),
        "ok/animated.webp": encode(
            frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True
        ),
        "ok/rgba.webp": encode(rgba, "WEBP", lossless=True),
        "ok/exif_rotated.jpg": rotated_portrait(6),
        "ok/bad_exif.jpg": encode(pattern(seed=3), "JPEG", exif=b"Exif\x00\x00garbage!"),
        "ok/one_pixel.png": encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"),
        "ok/wide_4000x1.png": encode(pattern(4000, 1), "PNG"),
        "ok/tall_1x4000.png": encode(pattern(1, 4000), "PNG"),
        "ok/image.bmp": encode(pattern(seed=4), "BMP"),
        "ok/image.tif": encode(pattern(seed=5), "TIFF"),
        "ok/grey16.tiff": encode(Image.fromarray(grey16), "TIFF"),
        "ok/float.tiff": encode(Image.fromarray(grey16.astype(np.float32) / 65535), "TIFF"),
        "ok/png_named.jpg": encode(pattern(seed=6), "PNG"),
        "ok/no_iend.png": encode(pattern(seed=7), "PNG")[:-12],
        "dir_named.jpg/inner.png": encode(pattern(seed=8), "PNG"),
    }


def bad_files() -> dict[str, tuple[bytes, str]]:
    """Broken files: name -> (bytes, expected reason)."""
    jpeg = encode(pattern(), "JPEG", quality=90)
    png = encode(pattern(seed=9), "PNG")
    corrupt = bytearray(png)
    corrupt[len(png) // 2 : len(png) // 2 + 16] = b"\xff" * 16
    return {
        "bad/empty.jpg": (b"", "empty"),
        "bad/text.jpg": (b"this is not an image\n" * 10, "not_an_image"),
        "bad/page.png": (b"<!doctype html><html><body>hi</body></html>", "not_an_image"),
        "bad/eps_named.jpg": (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
            "not_an_image",
        ),
        "bad/truncated.jpg": (jpeg[: len(jpeg) * 2 // 3], "truncated"),
        "bad/truncated.png": (png[: len(png) // 2], "truncated"),
        "bad/corrupt.png": (bytes(corrupt), "corrupt"),
        "bad/header_only.png": (png[:20], "truncated"),
        "bad/bomb_header.png": (bomb_header_png(), "decompression_bomb"),
        "bad/bomb_real.png": (bomb_real_png(), "decompression_bomb"),
    }


# --------------------------------------------------------------------------- the collection


def _write(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def make_fault_collection(root: Path) -> dict[str, str]:
    """Fill ``root`` with every odd and broken category; return ``{name: expected outcome}``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    for name, data in ok_files().items():
        _write(root, name, data)
        expected[name] = "ok"
    for name, (data, reason) in bad_files().items():
        _write(root, name, data)
        expected[name] = reason

    dup = encode(pattern(seed=10), "PNG")
    for name in DUPLICATES:
        _write(root, name, dup)
        expected[name] = "ok"
    for i, name in enumerate(HOSTILE_NAMES):
        _write(root, name, encode(pattern(seed=20 + i), "PNG"))
        expected[name] = "ok"
    raw = os.fsencode(root) + b"/" + NON_UTF8_RAW
    with open(raw, "wb") as fh:
        fh.write(encode(pattern(seed=30), "PNG"))
    expected[NON_UTF8_NAME] = "ok"

    os.mkfifo(root / "bad/fifo.jpg")  # would block a naive open() forever
    expected["bad/fifo.jpg"] = "unreadable"
    locked = root / "bad/no_permission.png"
    locked.write_bytes(encode(pattern(seed=11), "PNG"))
    locked.chmod(0)
    expected["bad/no_permission.png"] = "ok" if os.geteuid() == 0 else "unreadable"

    links = root / "links"
    links.mkdir()
    (links / "link.png").symlink_to("../ok/rgb.jpg")
    (links / "loop.jpg").symlink_to("loop.jpg")
    (links / "dangling.png").symlink_to("missing.png")
    (links / "dirlink").symlink_to("../ok", target_is_directory=True)
    (links / "dirloop").symlink_to(".", target_is_directory=True)
    for name in ("link.png", "loop.jpg", "dangling.png", "dirlink", "dirloop"):
        expected[f"links/{name}"] = "symlink"
    (links / "notes.txt.lnk").symlink_to("../notes.txt")
    expected["links/notes.txt.lnk"] = "ignored"

    for name, data in {
        "notes.txt": b"hello",
        "README": b"no extension",
        "photo.jpg.bak": encode(pattern(), "JPEG"),
        ".hidden.png": encode(pattern(), "PNG"),
        ".hidden_dir/inside.png": encode(pattern(), "PNG"),
    }.items():
        _write(root, name, data)
        expected[name] = "ignored"
    return expected


@contextlib.contextmanager
def vanish_after_listing(root: Path, names: Iterable[str]) -> Iterator[None]:
    """Within the block, a scan lists ``names`` and then finds them gone (reason "vanished")."""
    original = images._list_candidates
    doomed = [Path(root) / n for n in names]

    def listing_then_delete(scan_root: Path):  # noqa: ANN202 - mirrors the private signature
        result = original(scan_root)
        for path in doomed:
            path.unlink(missing_ok=True)
        return result

    images._list_candidates = listing_then_delete
    try:
        yield
    finally:
        images._list_candidates = original
