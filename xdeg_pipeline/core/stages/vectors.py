"""Your own vectors: the features stage reads a table instead of running a model.

The table (parquet, ``$XDEG_VECTORS`` or ``xdeg build --vectors``) has a ``content_hash`` or a
``name`` column (the image's path relative to the collection folder, as in
``raw_images.parquet``) and a fixed-length list of floats, ``vector`` unless
``$XDEG_VECTORS_COLUMN`` names another. Each shard's input fingerprint holds a digest of its
images' vectors, so a table that gains rows recomputes only the shards they fall in (the
images are new to the features, as when files are added). Images without a vector are
rejected (stage ``features``, reason ``no_vector``); rows naming no image of the collection
are counted and a few named.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NO_VECTOR = "no_vector: no row for this image in the vectors table"
EXAMPLES = 5  # extra rows named in the log and the metadata


class VectorsError(ValueError):
    """The vectors table cannot be used (one line naming the setting)."""


@dataclass
class VectorTable:
    """The table's vectors by content hash, and the rows that name no image."""

    by_hash: dict[str, np.ndarray]
    dim: int
    column: str
    extra_rows: int = 0
    extra_examples: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The features' cache key (names the source, column and dimension)."""
        return f"vectors-{self.column}-d{self.dim}"

    def digest(self, hashes: list[str]) -> str:
        """What the vectors of these images are (missing ones included)."""
        h = hashlib.sha256()
        for c in sorted(hashes):
            vec = self.by_hash.get(c)
            h.update(c.encode() + (b"-" if vec is None else vec.tobytes()))
        return h.hexdigest()

    def blobs(self, hashes: list[str]) -> tuple[bytes | None, ...]:
        """The vectors of ``hashes`` as float32 bytes (None: no vector), picklable."""
        return tuple(None if self.by_hash.get(c) is None else self.by_hash[c].tobytes()
                     for c in hashes)


def read_vectors(path: Path, column: str, manifest: pd.DataFrame) -> VectorTable:
    """The table at ``path`` matched to ``manifest`` (columns name, content_hash)."""
    where = f"the vectors table {path} ($XDEG_VECTORS)"
    try:
        table = pd.read_parquet(path)
    except Exception as exc:
        raise VectorsError(f"{where} cannot be read: {type(exc).__name__}: {exc}") from None
    keycol = next((c for c in ("content_hash", "name") if c in table.columns), None)
    if keycol is None or column not in table.columns:
        raise VectorsError(f"{where} needs a content_hash or name column and a {column!r} "
                           f"column ($XDEG_VECTORS_COLUMN); it has {', '.join(table.columns)}")
    lengths = {len(v) for v in table[column] if v is not None}
    if len(lengths) != 1:
        raise VectorsError(f"{where}: the {column!r} vectors must all have one length, got "
                           f"{sorted(lengths)[:5]}")
    if keycol == "content_hash":
        to_hash = {h: h for h in manifest["content_hash"]}
    else:
        to_hash = dict(zip(manifest["name"], manifest["content_hash"]))
    by_hash: dict[str, np.ndarray] = {}
    extra: list[str] = []
    for key, vec in zip(table[keycol].astype(str), table[column]):
        h = to_hash.get(key)
        if h is None:
            extra.append(key)
        elif vec is not None:
            by_hash[h] = np.asarray(vec, np.float32)
    return VectorTable(by_hash, lengths.pop(), column, len(extra), extra[:EXAMPLES])


def vector_features(items: tuple[tuple[str, str], ...], blobs: tuple[bytes | None, ...],
                    dim: int) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """A shard's ``(hashes with a vector, their features (n, dim), {hash: no_vector})``."""
    ok, rows, failed = [], [], {}
    for (h, _), blob in zip(items, blobs):
        if blob is None:
            failed[h] = NO_VECTOR
        else:
            ok.append(h)
            rows.append(np.frombuffer(blob, np.float32))
    X = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return ok, X, failed
