"""The manifest's metadata of each image: the table on disk, captions and what a page shows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.sources.remote.manifest import norm_column
from xdeg_pipeline.core.storage.atomic import write_parquet

TITLE_COLUMNS: tuple[str, ...] = ("title", "object title", "artwork", "manifest_name", "label")
ARTIST_COLUMNS: tuple[str, ...] = ("artist", "artist name", "artist_name", "creator", "author",
                                   "maker")
DISPLAY_FIRST: tuple[str, ...] = (*TITLE_COLUMNS, *ARTIST_COLUMNS, "year", "date", "style",
                                  "category", "genre", "medium", "id")


def write_metadata(metadata: pd.DataFrame, path: Path) -> Path:
    """Write the metadata table (``image_metadata.parquet``: name + the manifest's columns, all
    as strings) to ``path``, atomically."""
    return write_parquet(metadata.astype(str), Path(path))


def read_metadata(path: Path, names: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """name -> {column: value} from the metadata table at ``path`` (non-empty values only;
    ``{}`` when there is no such file)."""
    path = Path(path)
    if not path.exists():
        return {}
    df = pd.read_parquet(path)
    if "name" not in df.columns:
        return {}
    wanted = set(names) if names is not None else None
    cols = [c for c in df.columns if c != "name"]
    out: dict[str, dict[str, str]] = {}
    for record in df.to_dict("records"):
        name = str(record["name"])
        if wanted is not None and name not in wanted:
            continue
        out[name] = {c: str(record[c]) for c in cols
                     if record[c] is not None and str(record[c]).strip() not in ("", "nan")}
    return out


def _lookup(meta: dict[str, str], aliases: Iterable[str]) -> str | None:
    by_norm = {norm_column(k): v for k, v in meta.items()}
    for alias in aliases:
        value = by_norm.get(norm_column(alias))
        if value:
            return value.strip()
    return None


def caption(meta: dict[str, str]) -> str | None:
    """The picture's caption from its metadata: ``title — artist``, or either alone."""
    title, artist = _lookup(meta, TITLE_COLUMNS), _lookup(meta, ARTIST_COLUMNS)
    if title and artist:
        return f"{title} — {artist}"
    return title or artist


def display_meta(meta: dict[str, str], limit: int = 12) -> dict[str, str]:
    """Up to ``limit`` metadata entries for a page: title, artist, year, style... first, then
    the others in manifest order."""
    first = {norm_column(a): i for i, a in enumerate(DISPLAY_FIRST)}
    keys = sorted(meta, key=lambda k: first.get(norm_column(k), len(first)))
    return {k: meta[k] for k in keys[:limit]}
