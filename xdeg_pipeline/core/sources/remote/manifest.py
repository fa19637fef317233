"""Reading a URL manifest: a CSV or TSV table of image URLs (delimiter and encoding sniffed),
and finding its URL and id columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.images.provenance import norm_key

URL_COLUMN_ALIASES: tuple[str, ...] = ("url", "image url", "image_url", "imageurl", "img_url")
ID_COLUMN_ALIASES: tuple[str, ...] = ("id",)


def _decode_text(raw: bytes) -> str:
    """UTF-8, else cp1252, else latin-1 (a UTF-8 byte-order mark is dropped in every case)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _sniff_delimiter(path: Path, text: str) -> str:
    """Tab for ``.tsv``/``.tab``; else the most frequent of tab, comma, semicolon, pipe in the
    header line (ties in that order); comma for a one-column file."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    header = text.split("\n", 1)[0]
    counts = [(header.count(sep), -i, sep) for i, sep in enumerate(("\t", ",", ";", "|"))]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


def _unquote_tsv(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"')
    return value


def load_manifest_table(path: Path) -> pd.DataFrame:
    """Read a CSV or TSV manifest (delimiter sniffed) as strings; empty cells are ``""``.

    UTF-8 (with or without BOM) is tried first, then cp1252. A TSV is read without quote
    processing (a stray ``"`` in a title cannot swallow rows); a cell wholly wrapped in double
    quotes is unwrapped.
    """
    path = Path(path)
    text = _decode_text(path.read_bytes())
    if not text.strip():
        raise ValueError(f"manifest {path} is empty")
    sep = _sniff_delimiter(path, text)
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quoting=quoting,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"manifest {path} cannot be read as a table: {exc}") from None
    df.columns = [_unquote_tsv(str(c).strip()) if sep == "\t" else str(c).strip()
                  for c in df.columns]
    if sep == "\t":
        df = df.apply(lambda col: col.map(_unquote_tsv))
    return df.fillna("")


norm_column = norm_key  # a column name compared loosely (one definition, core.images)


def find_url_column(df: pd.DataFrame, preferred: str | None = None) -> str:
    """The column holding the image URLs: ``preferred`` (exact, then case-insensitive), else
    ``url`` / ``Image URL`` / ``image_url``... (any case). Raises ``KeyError`` with the columns."""
    columns = [str(c) for c in df.columns]
    if preferred:
        if preferred in columns:
            return preferred
        folded = [c for c in columns if c.casefold() == preferred.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise KeyError(f"URL column {preferred!r} not in the manifest; columns: {columns}")
    for alias in URL_COLUMN_ALIASES:
        hits = [c for c in columns if norm_column(c) == norm_column(alias)]
        if hits:
            return hits[0]
    raise KeyError(
        f"no URL column found (looked for 'url' or 'Image URL', any case); columns: {columns}. "
        "Name it with XDEG_URL_COLUMN or the resource's url_column."
    )


def find_column(df: pd.DataFrame, aliases: Iterable[str]) -> str | None:
    """The first column matching one of ``aliases`` loosely (leftmost column on a tie)."""
    by_norm = {norm_column(str(c)): str(c) for c in reversed(list(df.columns))}
    for alias in aliases:
        if norm_column(alias) in by_norm:
            return by_norm[norm_column(alias)]
    return None
