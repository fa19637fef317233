"""Names of collection files: posix paths relative to the root, printable and parquet-safe.

A name whose bytes are not valid UTF-8 is stored with each undecodable byte written as ``\\xNN``
(``bytes.decode("utf-8", "backslashreplace")``); :func:`name_to_path` maps it back, and
:func:`xdeg_pipeline.core.images.scan.load_rgb` given ``root / name`` finds the real file by itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def safe_name(name: str) -> str:
    """A printable, UTF-8-encodable form of a name from ``os.walk`` (see module docstring)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def unescape_name(text: str) -> str:
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
    return Path(root) / unescape_name(name)
