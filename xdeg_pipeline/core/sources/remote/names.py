"""Image names of a manifest's rows: the ``id`` column, else the URL's last segment; made
file-name safe, de-duplicated in row order (``_2``, ``_3``...) and given the extension of the
bytes when they lack it."""

from __future__ import annotations

import os
import unicodedata
import urllib.parse
from collections.abc import Iterable

import pandas as pd

from xdeg_pipeline.core.images.formats import EXTENSIONS, IMAGE_EXTENSIONS
from xdeg_pipeline.core.sources.remote.manifest import ID_COLUMN_ALIASES, find_column


def safe_file_name(text: str, fallback: str = "image", max_bytes: int = 150) -> str:
    """``text`` as one file name: no ``/``, ``\\``, control characters or leading dots."""
    text = unicodedata.normalize("NFC", str(text)).strip()
    out = "".join(
        "_" if ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cs", "Cf") else ch
        for ch in text
    )
    out = out.lstrip(". ").rstrip()
    while len(out.encode("utf-8")) > max_bytes:
        stem, suffix = os.path.splitext(out)
        out = (stem[:-1] + suffix) if len(stem) > 1 else out[:-1]
    return out or fallback


def url_name(url: str) -> str:
    """The last non-empty segment of a URL's path, percent-decoded (else the host)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return "image"
    segments = [s for s in parts.path.split("/") if s]
    if segments:
        return urllib.parse.unquote(segments[-1])
    return parts.hostname or "image"


def _with_suffix_number(name: str, n: int) -> str:
    stem, suffix = os.path.splitext(name)
    if suffix.lower() in IMAGE_EXTENSIONS:
        return f"{stem}_{n}{suffix}"
    return f"{name}_{n}"


def dedupe_names(names: Iterable[str]) -> list[str]:
    """Make names unique (case-insensitively) in order: the first keeps its name, later ones
    get ``_2``, ``_3``... before an image extension."""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = _with_suffix_number(name, n)
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


def name_with_format(base: str, fmt: str) -> str:
    """``base`` if its extension fits the image format, else ``base`` + the format's extension."""
    exts = EXTENSIONS.get(fmt, (".img",))
    if os.path.splitext(base)[1].lower() in exts:
        return base
    return base + exts[0]


def base_names(df: pd.DataFrame, url_column: str) -> list[str]:
    """One unique, file-name-safe base name per row (``id`` column, else the URL's end)."""
    id_col = find_column(df, ID_COLUMN_ALIASES)
    names = []
    for i, url in enumerate(df[url_column].astype(str)):
        raw = str(df[id_col].iat[i]).strip() if id_col is not None else ""
        names.append(safe_file_name(raw or url_name(url) if (raw or url.strip()) else f"row{i}"))
    return dedupe_names(names)
