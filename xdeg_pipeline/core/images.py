"""Image intake: scan a collection folder into a manifest, and load any odd image as upright RGB.

Choices (documented here because other modules rely on them):

* Transparency (RGBA, LA, PA, palette or colour-key ``transparency``) is composited on
  :data:`BACKGROUND`, **white**: emoji, logos and icons look as they do on a web page.
* Only JPEG, PNG, GIF, WebP, BMP and TIFF are decoded (:data:`ALLOWED_FORMATS`), whatever the
  extension says; other Pillow plugins (EPS runs Ghostscript, ...) are never reached.
* Decompression bombs: the header's ``width * height`` is checked against ``max_pixels``
  (default :data:`MAX_PIXELS`, Pillow's own warning threshold) *before* anything is decoded.
  Pillow may emit ``DecompressionBombWarning`` at open; every image that triggers it is over
  our limit too, so it is rejected, never returned.
* Truncated files are rejected: ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left ``False``.
  A PNG whose pixel data is complete but that lacks its final ``IEND`` chunk loads.
* Files are opened with ``O_NOFOLLOW | O_NONBLOCK``: symlinks are refused (reason
  ``symlink``), FIFOs and devices never block (reason ``unreadable``).
* Names are posix paths relative to the root. A name whose bytes are not valid UTF-8 is stored
  with each undecodable byte written as ``\\xNN`` (``bytes.decode("utf-8", "backslashreplace")``):
  such a name is printable and parquet-safe. :func:`name_to_path` maps it back, and
  :func:`load_rgb` given ``root / name`` finds the real file by itself.
* ``width`` / ``height`` in the manifest are the full-resolution, upright (EXIF-rotated) size.

Rejection reasons (:attr:`ImageRejected.reason`): see :data:`REASONS`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
)
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
MAX_PIXELS: int = 89_478_485  # Pillow's default MAX_IMAGE_PIXELS (~9459 x 9459)
VALIDATE_SIDE: int = 256  # decode size used by the scan to validate a file
BATCH_FILES: int = 32  # files per pool task (at most)
BATCH_BYTES: int = 4 << 20  # bytes per pool task (at most, unless one file is larger)
BACKGROUND: tuple[int, int, int] = (255, 255, 255)

REASONS: dict[str, str] = {
    "empty": "zero-byte file",
    "truncated": "the file ends before the image data does",
    "corrupt": "recognised format, but the data is broken (bad header, CRC, stream)",
    "not_an_image": "not a JPEG/PNG/GIF/WebP/BMP/TIFF file, whatever its extension",
    "decompression_bomb": "width*height over the pixel limit (checked before decoding)",
    "unreadable": "permission denied, I/O error, or not a regular file (FIFO, device)",
    "vanished": "listed, then gone before it could be read",
    "symlink": "symbolic links are never followed (loops cannot hang the scan)",
    "unsupported": "readable, but cannot be turned into RGB, or its name collides",
}

MANIFEST_COLUMNS: tuple[str, ...] = (
    "name",
    "content_hash",
    "bytes",
    "mtime_ns",
    "width",
    "height",
    "format",
)
REJECTED_COLUMNS: tuple[str, ...] = ("name", "stage", "reason", "detail")
_INT_COLUMNS = ("bytes", "mtime_ns", "width", "height")

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # the table of ImageOps.exif_transpose
_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


class ImageRejected(Exception):
    """An image file that cannot be used; ``reason`` is a short code from :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass
class ScanResult:
    """Outcome of :func:`scan_collection`."""

    manifest: pd.DataFrame  # MANIFEST_COLUMNS, one row per name, sorted by name
    rejected: pd.DataFrame  # REJECTED_COLUMNS, sorted by name
    reused: int = 0  # rows taken from ``previous`` without reading the file
    inspected: int = 0  # files read, hashed and decoded in this scan


# --------------------------------------------------------------------------- names


def safe_name(name: str) -> str:
    """A printable, UTF-8-encodable form of a name from ``os.walk`` (see module docstring)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def _unescape(text: str) -> str:
    """Inverse of :func:`safe_name`: ``\\xNN`` (NN >= 80) back to the raw byte."""
    parts = _ESCAPED_BYTE.split(text)
    raw = bytearray()
    for i, part in enumerate(parts):
        raw += bytes([int(part, 16)]) if i % 2 else os.fsencode(part)
    return os.fsdecode(bytes(raw))


def name_to_path(root: Path, name: str) -> Path:
    """The file behind a manifest name (undoes the escaping of non-UTF-8 names)."""
    path = Path(root) / name
    if os.path.lexists(path) or not _ESCAPED_BYTE.search(name):
        return path
    return Path(root) / _unescape(name)


# --------------------------------------------------------------------------- opening


def _open_regular(path: Path) -> tuple[IO[bytes], os.stat_result]:
    """Open a regular file for reading without following a symlink or blocking on a FIFO."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        alt = _unescape(os.fspath(path))
        if alt != os.fspath(path):
            return _open_regular(Path(alt))
        raise ImageRejected("vanished", "file not found") from None
    except PermissionError as exc:
        raise ImageRejected("unreadable", f"permission denied ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageRejected("symlink", "is a symbolic link (not followed)") from None
        raise ImageRejected("unreadable", f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageRejected("unreadable", f"not a regular file ({_kind(st.st_mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, label in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return label
    return "special file"


def _hash_fileobj(fh: IO[bytes]) -> str:
    """sha256 hex of a binary file object, streamed."""
    return hashlib.file_digest(fh, "sha256").hexdigest()


def content_hash(path: Path) -> str:
    """sha256 hex of a file's bytes, streamed. Raises :class:`ImageRejected` like :func:`load_rgb`
    for a missing file, a symlink or a non-regular file."""
    fh, _ = _open_regular(Path(path))
    with fh:
        try:
            return _hash_fileobj(fh)
        except OSError as exc:
            raise ImageRejected("unreadable", f"read error: {exc}") from None


# --------------------------------------------------------------------------- decoding


def _sniff(fh: IO[bytes]) -> str | None:
    fh.seek(0)
    head = fh.read(16)
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _classify(exc: BaseException) -> ImageRejected:
    """Map an exception raised while decoding to a rejection."""
    if isinstance(exc, ImageRejected):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, Image.DecompressionBombError | MemoryError):
        return ImageRejected("decompression_bomb", text)
    if isinstance(exc, ValueError) and "too large" in str(exc).lower():
        return ImageRejected("decompression_bomb", text)  # PNG text/ICC chunk bombs
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return ImageRejected("truncated", text)
    if isinstance(exc, OSError) and exc.errno is not None:
        return ImageRejected("unreadable", f"read error: {text}")
    return ImageRejected("corrupt", text)


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # broken EXIF: keep the image as stored
        return 1
    return value if value in _TRANSPOSE else 1


def _numeric_to_rgb(im: Image.Image, max_side: int | None) -> Image.Image:
    """16/32-bit integer or float grey to RGB: 16-bit divided by 257 (not clipped to white),
    floats in 0..1 times 255, anything else outside 0..255 stretched to its min..max."""
    sixteen = im.mode.startswith("I;16") or (im.mode == "I" and im.format == "PNG")
    work = im if im.mode in ("I", "F") else im.convert("I")
    if max_side:
        work = work.copy()
        work.thumbnail((max_side, max_side))
    arr = np.nan_to_num(np.asarray(work, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if sixteen or (work.mode == "I" and lo >= 0 and 255 < hi <= 65535):
        out = arr / 257.0
    elif work.mode == "F" and lo >= 0 and hi <= 1.0:
        out = arr * 255.0
    elif lo >= 0 and hi <= 255:
        out = arr
    else:
        out = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    grey = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _to_rgb(im: Image.Image, max_side: int | None = None) -> Image.Image:
    """Any Pillow mode to RGB: 16-bit scaled, alpha composited on :data:`BACKGROUND`."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _numeric_to_rgb(im, max_side)
    if "A" in mode or "a" in mode or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


MaxSide = int | Callable[[int, int], int] | None


def _decode(
    fh: IO[bytes], max_side: MaxSide, max_pixels: int
) -> tuple[Image.Image, str, int, int]:
    """Decode an open file: (upright RGB image, format, full width, full height).

    ``max_side`` may be a function of the stored (width, height), read from the header.
    """
    fh.seek(0)
    try:
        im = Image.open(fh, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        fmt = _sniff(fh)
        if fmt:
            raise ImageRejected(
                "corrupt", f"starts like {fmt} but the header is unreadable"
            ) from None
        raise ImageRejected("not_an_image", "not a JPEG/PNG/GIF/WebP/BMP/TIFF file") from None
    except Exception as exc:  # plugins raise anything on hostile input
        raise _classify(exc) from None
    with im:
        try:
            width, height = im.size
            fmt = im.format or "?"
            if width <= 0 or height <= 0:
                raise ImageRejected("corrupt", f"invalid size {width}x{height}")
            if width * height > max_pixels:
                raise ImageRejected(
                    "decompression_bomb",
                    f"{width}x{height} = {width * height} pixels > limit {max_pixels}",
                )
            if callable(max_side):
                max_side = max_side(width, height)
            if max_side and fmt == "JPEG":
                im.draft("RGB", (max_side, max_side))  # DCT scaling: decode 1/2..1/8 size
            im.load()
            orientation = _orientation(im)
            rgb = _to_rgb(im, max_side)
        except Exception as exc:
            raise _classify(exc) from None
    if max_side:
        rgb.thumbnail((max_side, max_side))
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return rgb, fmt, width, height


def load_rgb(
    path: Path, max_side: MaxSide = None, *, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Load an image file as an upright RGB image, at most ``max_side`` pixels on its long side
    (an int, or a function of the stored width and height: one open, one header read).

    Animated images give their first frame. Raises :class:`ImageRejected` for anything broken.
    """
    fh, st = _open_regular(Path(path))
    with fh:
        if st.st_size == 0:
            raise ImageRejected("empty", "zero-byte file")
        rgb, _, _, _ = _decode(fh, max_side, max_pixels)
    return rgb


# --------------------------------------------------------------------------- scanning


def _inspect(path: str, name: str) -> dict:
    """Hash and fully decode one file (at VALIDATE_SIDE): its manifest row."""
    fh, st = _open_regular(Path(path))
    with fh:
        if st.st_size == 0:
            raise ImageRejected("empty", "zero-byte file")
        try:
            digest = _hash_fileobj(fh)
        except OSError as exc:
            raise ImageRejected("unreadable", f"read error: {exc}") from None
        _, fmt, width, height = _decode(fh, VALIDATE_SIDE, MAX_PIXELS)
    return {
        "name": name,
        "content_hash": digest,
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "width": width,
        "height": height,
        "format": fmt,
    }


def _inspect_safe(path: str, name: str) -> dict:
    """:func:`_inspect` that never raises: a manifest row, or a row with a ``reason``."""
    try:
        return _inspect(path, name)
    except ImageRejected as exc:
        return _reject(name, exc.reason, exc.detail)
    except Exception as exc:  # one bad file never stops a scan
        rej = _classify(exc)
        return _reject(name, rej.reason, rej.detail)


def _inspect_batch(batch: list[tuple[str, str, int]]) -> list[dict]:
    return [_inspect_safe(path, name) for name, path, _ in batch]


def _batches(
    todo: list[tuple[str, str, int]], workers: int
) -> Iterator[list[tuple[str, str, int]]]:
    """Group files for the pool: one task per file costs more than decoding a small PNG.
    A batch closes at BATCH_FILES files or BATCH_BYTES bytes, and is small enough that every
    worker gets several."""
    limit = max(1, min(BATCH_FILES, len(todo) // (workers * 4)))
    batch: list[tuple[str, str, int]] = []
    size = 0
    for item in todo:
        batch.append(item)
        size += item[2]
        if len(batch) >= limit or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _reject(name: str, reason: str, detail: str) -> dict:
    return {"name": name, "stage": "scan", "reason": reason, "detail": detail}


def _list_candidates(root: Path) -> tuple[list[tuple[str, str]], list[dict]]:
    """Walk ``root``: (name, real path) of image-like files, and rejects found while listing."""
    candidates: list[tuple[str, str]] = []
    rejected: list[dict] = []
    root_str = os.fspath(root)

    def rel(path: str) -> str:
        return safe_name(PurePath(os.path.relpath(path, root_str)).as_posix())

    def on_error(exc: OSError) -> None:
        if exc.filename is not None and os.fspath(exc.filename) != root_str:
            rejected.append(
                _reject(
                    rel(os.fspath(exc.filename)),
                    "unreadable",
                    f"cannot list folder: {exc.strerror or exc}",
                )
            )
        else:
            raise exc

    for dirpath, dirnames, filenames in os.walk(root_str, onerror=on_error, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                rejected.append(
                    _reject(rel(full), "symlink", "symbolic link to a folder (not followed)")
                )
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.startswith(".") or os.path.splitext(f)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            full = os.path.join(dirpath, f)
            candidates.append((rel(full), full))
    return candidates, rejected


def _previous_index(previous: pd.DataFrame | None) -> dict[str, dict]:
    if previous is None or len(previous) == 0:
        return {}
    if not set(MANIFEST_COLUMNS) <= set(previous.columns):
        return {}  # an old or foreign table: rescan everything
    rows = previous.loc[:, list(MANIFEST_COLUMNS)].to_dict("records")
    return {str(r["name"]): r for r in rows}


def _frame(rows: list[dict], columns: Iterable[str], ints: Iterable[str] = ()) -> pd.DataFrame:
    cols = list(columns)
    df = pd.DataFrame(rows, columns=cols)
    for c in cols:
        df[c] = df[c].astype("int64") if c in ints else df[c].astype(str)
    return df.sort_values("name", kind="stable").reset_index(drop=True)


def scan_collection(
    root: Path,
    previous: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 2,
) -> ScanResult:
    """Scan ``root`` recursively into a manifest of valid images and a table of rejects.

    Files whose name, size and mtime_ns match a row of ``previous`` are not read again.
    New or changed files are hashed and decoded by a pool of ``workers`` threads.
    ``progress(done, total)`` is called from the calling thread. Never raises for one file.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"image folder not found or not a folder: {root}")
    Image.init()  # register every plugin once, before threads race to do it
    candidates, rejected = _list_candidates(root)
    known = _previous_index(previous)
    total = len(candidates)
    rows: list[dict] = []
    todo: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for name, path in candidates:
        if name in seen:
            rejected.append(
                _reject(
                    name,
                    "unsupported",
                    "name collides with another name once non-UTF-8 bytes are escaped",
                )
            )
            continue
        seen.add(name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            rejected.append(_reject(name, "vanished", "listed, then gone"))
            continue
        except OSError as exc:
            rejected.append(_reject(name, "unreadable", f"cannot stat: {exc.strerror or exc}"))
            continue
        if stat.S_ISLNK(st.st_mode):
            rejected.append(_reject(name, "symlink", "symbolic link (not followed)"))
        elif not stat.S_ISREG(st.st_mode):
            rejected.append(
                _reject(name, "unreadable", f"not a regular file ({_kind(st.st_mode)})")
            )
        elif st.st_size == 0:
            rejected.append(_reject(name, "empty", "zero-byte file"))
        elif (
            (old := known.get(name)) is not None
            and int(old["bytes"]) == st.st_size
            and int(old["mtime_ns"]) == st.st_mtime_ns
        ):
            rows.append(old)
        else:
            todo.append((name, path, st.st_size))
    reused = len(rows)
    done = total - len(todo)
    if progress is not None:
        progress(done, total)

    def collect(results: list[dict]) -> None:
        nonlocal done
        for result in results:
            (rejected if "reason" in result else rows).append(result)
        done += len(results)
        if progress is not None:
            progress(done, total)

    if workers <= 1 or len(todo) <= 1:
        for name, path, _ in todo:
            collect([_inspect_safe(path, name)])
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xdeg-scan") as pool:
            futures = [pool.submit(_inspect_batch, batch) for batch in _batches(todo, workers)]
            for fut in as_completed(futures):
                collect(fut.result())
    return ScanResult(
        manifest=_frame(rows, MANIFEST_COLUMNS, _INT_COLUMNS),
        rejected=_frame(rejected, REJECTED_COLUMNS),
        reused=reused,
        inspected=len(todo),
    )
