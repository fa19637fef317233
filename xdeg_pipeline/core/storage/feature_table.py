"""The (content_hash, feature) parquet table: the one codec of every file holding features.

Columns: ``content_hash`` (string) and ``feature`` (``fixed_size_list<float32>[dim]``), one row
per image. An empty table whose width is unknown (no rows, no ``dim``) has a plain
``list<float32>`` column, since Arrow has no fixed-size list of length 0.

Readers also accept the variable-length ``list<float32>`` encoding the feature cache wrote
before (every row must have the same length), so existing caches and data folders stay valid.

A table read or written is kept (up to :data:`READ_CACHE_BYTES`, by the file's identity:
inode, size, modification time) and given again: one build reads each feature shard in
several stages (the combined table, PCA, kNN, the checks, the feature cache: 112 reads, 0.5 s
of a build after adding 40 images to 4,000), and reads again the chunks and shard tables it
has just written. A file written again is a new inode (writes are atomic), so it is read
again. The features given are read-only (as Arrow's always were).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xdeg_pipeline.core.storage.atomic import write_with


def to_arrow(hashes: Sequence[str], X: np.ndarray) -> pa.Table:
    """The table of ``hashes`` and the rows of ``X`` (any float dtype, stored as float32)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    dim = X.shape[1] if X.ndim == 2 else 0
    values = pa.array(X.reshape(-1), type=pa.float32())
    if dim:
        feature = pa.FixedSizeListArray.from_arrays(values, dim)
    else:
        feature = pa.array([], pa.list_(pa.float32()))
    return pa.table({"content_hash": pa.array(list(hashes), pa.string()), "feature": feature})


def from_arrow(table: pa.Table) -> tuple[list[str], np.ndarray]:
    """Inverse of :func:`to_arrow`: ``(hashes, (n, dim) float32)``; ``(0, 0)`` when empty.

    Raises ``ValueError`` on null rows or, in the old variable-length encoding, rows of
    different lengths.
    """
    hashes = table.column("content_hash").to_pylist()
    n = len(hashes)
    if n == 0:
        return [], np.zeros((0, 0), np.float32)
    col = table.column("feature").combine_chunks()
    if col.null_count:
        raise ValueError(f"feature column has {col.null_count} null rows")
    if pa.types.is_fixed_size_list(col.type):
        dim = col.type.list_size
    else:
        lengths = pc.list_value_length(col)
        dim = int(pc.min(lengths).as_py())
        if int(pc.max(lengths).as_py()) != dim:
            raise ValueError("feature lists of different lengths")
    flat = col.flatten().to_numpy(zero_copy_only=False)
    return hashes, np.asarray(flat, dtype=np.float32).reshape(n, dim)


# How feature tables are written: no dictionary or statistics for the feature values (neither
# helps floats: pyarrow's default tries a dictionary for every column), zstd at level 1. On
# 4,287 x 1,280 rows: 0.18-0.22 s and 11.8 MB against the default's 0.22-0.48 s and 14.6 MB.
WRITE_OPTIONS = {"use_dictionary": ["content_hash"], "write_statistics": ["content_hash"],
                 "compression": "zstd", "compression_level": 1}


def write_feature_table(hashes: Sequence[str], X: np.ndarray, path: Path) -> Path:
    """Write one feature table atomically; returns ``path``. What was written is kept as if
    read (a build reads each feature chunk and shard table it writes again: 24 of the 42
    parquet reads of the feature stage after adding 40 images to 4,000)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    table = to_arrow(hashes, X)
    write_with(path, lambda p: pq.write_table(table, p, **WRITE_OPTIONS))
    if len(hashes) and X.ndim == 2 and X.shape[1]:
        _READS.put(_identity(os.stat(path)), list(hashes), X, written=True)
    return Path(path)


def feature_rows(path: Path) -> int:
    """The number of rows of a feature table (its footer only)."""
    return pq.read_metadata(path).num_rows


def write_feature_parts(parts: Iterable[tuple[Sequence[str], np.ndarray]], path: Path) -> int:
    """Stream several ``(hashes, X)`` parts into one feature table (atomic; one part in memory
    at a time). Empty parts are skipped; returns the row count."""
    rows = 0

    def _write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        try:
            for hashes, X in parts:
                if not len(hashes):
                    continue
                table = to_arrow(hashes, X)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, **WRITE_OPTIONS)
                writer.write_table(table)
                rows += len(hashes)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pq.write_table(to_arrow([], np.zeros((0, 0), np.float32)), tmp, **WRITE_OPTIONS)

    write_with(path, _write)
    return rows


def read_feature_hashes(path: Path) -> list[str]:
    """Only the ``content_hash`` column of a feature table (no feature values read)."""
    return pq.read_table(path, columns=["content_hash"]).column("content_hash").to_pylist()


READ_CACHE_BYTES = 256 * 2**20  # feature tables kept after a read (a million images: a shard
# of 1,280 floats is 320 MB, so none is kept there; 100,000 images: 8 of 16 shards)


class _ReadCache:
    """Feature tables by file identity, the least recently read dropped beyond a byte limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, tuple[list[str], np.ndarray]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> tuple[list[str], np.ndarray] | None:
        with self._lock:
            hit = self._kept.get(key)
            if hit is None:
                return None
            self._kept.move_to_end(key)
        return list(hit[0]), hit[1]  # read-only, as a table read from Arrow always was

    def put(self, key: tuple, hashes: list[str], X: np.ndarray, written: bool = False) -> None:
        """Keep a table (a copy where the caller may change it); ``written``: by this process
        just now (copied: the writer's array stays its own), so it replaces what an older file
        that had the same inode (freed, then reused) left under that key."""
        size = _size(hashes, X)
        with self._lock:
            if key in self._kept:
                if not written:
                    return
                self._bytes -= _size(*self._kept.pop(key))
            if size > self.limit:
                return
            X = X.copy() if written or X.flags.writeable else X.view()
            X.flags.writeable = False
            self._kept[key] = (list(hashes), X)
            self._bytes += size
            while self._bytes > self.limit:
                self._bytes -= _size(*self._kept.popitem(last=False)[1])


def _size(hashes: Sequence[str], X: np.ndarray) -> int:
    """What a kept table is counted as: its features and about 80 bytes a hash."""
    return X.nbytes + 80 * len(hashes)


_READS = _ReadCache(READ_CACHE_BYTES)


def _identity(st: os.stat_result) -> tuple:
    """The file, whatever its name: a table written to a temporary name and renamed into
    place (atomic writes; the stage runner's outputs) keeps its inode and time stamp."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_feature_table(path: Path) -> tuple[list[str], np.ndarray]:
    """A feature table as ``(hashes, (n, dim) float32)``, either encoding."""
    try:
        st = os.stat(path)
    except OSError:
        return from_arrow(pq.read_table(path))  # says what is wrong with it
    key = _identity(st)
    hit = _READS.get(key)
    if hit is not None:
        return hit
    hashes, X = from_arrow(pq.read_table(path))
    _READS.put(key, hashes, X)
    return hashes, X
