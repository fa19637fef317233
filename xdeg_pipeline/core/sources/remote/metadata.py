"""The manifest's metadata of each image: the table on disk, captions and what a page shows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.images.provenance import (
    ALIASES,
    METADATA_COLUMN,
    SOURCE_COLUMNS,
    alias_key,
    metadata_pairs,
    norm_key,
    provenance,
)
from xdeg_pipeline.core.storage.atomic import write_parquet

# what a page lists first; credit, rights and links are shown on their own lines
DISPLAY_FIRST: tuple[str, ...] = (*ALIASES["label"], *ALIASES["creator"], *ALIASES["date"],
                                  "style", "category", "genre", "medium", "id")
SHOWN_APART = frozenset({"credit", "rights", "link", "manifest"})


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


def caption(meta: dict[str, str]) -> str | None:
    """The picture's caption from its metadata: ``label — creator``, or either alone (the
    columns that say them: :data:`xdeg_pipeline.core.images.provenance.ALIASES`)."""
    record = provenance(meta)
    title, artist = record["label"], record["creator"]
    if title and artist:
        return f"{title} — {artist}"
    return title or artist


def display_meta(meta: dict[str, str], limit: int = 12) -> dict[str, str]:
    """Up to ``limit`` metadata entries for a page: title, artist, year, style... first, then
    the others in manifest order (a IIIF ``metadata`` column's pairs in its place); credit,
    rights, links and the source's own columns (canvas, collection) are left out."""
    entries: dict[str, str] = {}
    for key, value in meta.items():
        if norm_key(key) == METADATA_COLUMN:
            for label, text in metadata_pairs(value):
                entries.setdefault(label, text)
        elif norm_key(key) not in SOURCE_COLUMNS and alias_key(key) not in SHOWN_APART:
            entries[key] = value
    first = {norm_key(a): i for i, a in enumerate(DISPLAY_FIRST)}
    keys = sorted(entries, key=lambda k: first.get(norm_key(k), len(first)))
    return {k: entries[k] for k in keys[:limit]}
