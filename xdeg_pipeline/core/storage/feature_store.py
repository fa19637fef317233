"""Content-hash feature cache: one folder per extractor ``cache_key``, crash-safe chunks.

Layout under ``root/<safe key>/``: ``features.parquet`` (the compacted rows) and
``chunk-*.parquet`` (rows added since), each a feature table (``content_hash``, ``feature``;
codec: :mod:`xdeg_pipeline.core.storage.feature_table`). Every file is written to a temporary name
and renamed into place, so a reader only ever sees whole files; leftover temporary files
(``.*.tmp``) of a killed writer are ignored. ``RECORDS.json`` holds the size, mtime and
content hash of every file written (:mod:`.integrity`): a file that does not match its record
or cannot be read is not trusted (its rows are recomputed) and, by a holder of the shard's lock
(:meth:`FeatureStore.set_aside_damaged`), moved to ``<home>/damaged/``. A file without a record
(a cache written before records, or one being recorded) is read as it is. A hash present in
several files has the same features in each (written under one key); the last one read wins.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.storage.atomic import write_text
from xdeg_pipeline.core.storage.feature_table import (
    feature_rows,
    read_feature_table,
    write_feature_table,
)
from xdeg_pipeline.core.storage.integrity import cheap_damage, record, set_aside

MAIN_FILE = "features.parquet"
CHUNK_GLOB = "chunk-*.parquet"
RECORDS_FILE = "RECORDS.json"
# compact(when_due=True) merges the chunks only once they hold this share of the main file's rows
# or number this many: adding images then costs what was added, not a rewrite of the shard's
# cache (at a million images, 320 MB a shard) on every build, and reads stay a few files.
COMPACT_SHARE = 0.25
COMPACT_CHUNKS = 16


def safe_key(key: str) -> str:
    """A folder name for a cache key: letters, digits, ``._-`` kept, anything else ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", key).strip(".") or "_"
    return safe[:200]


class FeatureStore:
    """Features keyed by content hash, for one extractor ``cache_key``."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = Path(root)
        self.key = key
        self.folder = self.root / safe_key(key)
        self._index: dict[str, tuple[int, int]] | None = None  # hash -> (block, row)
        self._blocks: list[np.ndarray] = []
        self.unreadable: list[Path] = []  # files skipped by the last read
        self.damaged: dict[Path, str] = {}  # files skipped by the last read, and why

    # ------------------------------------------------------------------ records
    def records(self) -> dict[str, dict]:
        """File name -> its record (size, mtime, hash) as written."""
        try:
            return json.loads((self.folder / RECORDS_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def _record(self, add: Sequence[Path] = (), drop: Sequence[Path] = ()) -> None:
        records = {k: v for k, v in self.records().items()
                   if k not in {p.name for p in drop} and (self.folder / k).is_file()}
        records.update({p.name: record(p) for p in add})
        write_text(json.dumps(records, indent=1, sort_keys=True), self.folder / RECORDS_FILE)

    def set_aside_damaged(self, home: Path) -> list[str]:
        """Move the files the last read did not trust to ``<home>/damaged/`` (call it holding
        the shard's lock); returns the line said about each."""
        self._load()
        lines = [set_aside(home, path, "feature cache", reason,
                           "its images' features are computed again")
                 for path, reason in self.damaged.items()]
        if lines:
            self._record(drop=list(self.damaged))
            self.damaged = {}
        return lines

    # ------------------------------------------------------------------ reading
    def _files(self) -> list[Path]:
        main = self.folder / MAIN_FILE
        chunks = sorted(self.folder.glob(CHUNK_GLOB))  # names start with a time stamp
        return ([main] if main.is_file() else []) + chunks

    def _load(self) -> dict[str, tuple[int, int]]:
        if self._index is None:
            index: dict[str, tuple[int, int]] = {}
            blocks: list[np.ndarray] = []
            self.unreadable, self.damaged = [], {}
            records = self.records()
            for path in self._files():
                reason = cheap_damage(path, records[path.name]) if path.name in records else None
                if reason is None:
                    try:
                        hashes, feats = read_feature_table(path)
                    except Exception as exc:  # e.g. a disk-full write: its rows are recomputed
                        reason = f"unreadable ({type(exc).__name__})"
                if reason is not None:
                    self.unreadable.append(path)
                    self.damaged[path] = reason
                    continue
                if not hashes:
                    continue
                b = len(blocks)
                blocks.append(feats)
                index.update((h, (b, r)) for r, h in enumerate(hashes))
            self._index, self._blocks = index, blocks
        return self._index

    def known(self) -> set[str]:
        """Content hashes with stored features."""
        return set(self._load())

    def __len__(self) -> int:
        return len(self._load())

    @property
    def dim(self) -> int | None:
        """Feature length, or ``None`` while the store is empty."""
        self._load()
        return int(self._blocks[0].shape[1]) if self._blocks else None

    def get(self, hashes: Sequence[str]) -> np.ndarray:
        """Features of ``hashes`` in that order, ``(len(hashes), dim)`` float32."""
        index = self._load()
        dim = self.dim or 0
        out = np.empty((len(hashes), dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            try:
                b, r = index[h]
            except KeyError:
                raise KeyError(f"no features for content hash {h!r} under key {self.key!r}"
                               ) from None
            out[i] = self._blocks[b][r]
        return out

    # ------------------------------------------------------------------ writing
    def add(self, hashes: Sequence[str], feats: np.ndarray) -> None:
        """Append rows as a new chunk file (written atomically)."""
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] != len(hashes):
            raise ValueError(f"{len(hashes)} hashes but features of shape {feats.shape}")
        if not len(hashes):
            return
        if not np.isfinite(feats).all():
            raise ValueError("refusing to store non-finite features")
        dim = self.dim
        if dim is not None and feats.shape[1] != dim:
            raise ValueError(f"features of length {feats.shape[1]}, store holds {dim}")
        self._ensure_folder()
        name = f"chunk-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        index = self._load()
        self._record(add=[write_feature_table(hashes, feats, self.folder / name)])
        b = len(self._blocks)
        self._blocks.append(feats.copy())
        index.update((h, (b, r)) for r, h in enumerate(hashes))

    def compact(self, when_due: bool = False) -> bool:
        """Merge everything into ``features.parquet`` (atomic rename), then drop the chunks;
        with ``when_due``, only when :meth:`compaction_due`. Returns whether it merged.

        A crash between the two steps leaves chunks whose rows are also in the main file:
        harmless duplicates, removed by the next compaction.
        """
        chunks = sorted(self.folder.glob(CHUNK_GLOB))
        if not chunks or (when_due and not self.compaction_due(chunks)):
            return False
        self._index = None
        index = self._load()
        hashes = list(index)
        if hashes:
            main = write_feature_table(hashes, self.get(hashes), self.folder / MAIN_FILE)
            self._record(add=[main], drop=chunks)
        for chunk in chunks:
            chunk.unlink(missing_ok=True)
        self._index = None
        self._blocks = []
        return True

    def compaction_due(self, chunks: Sequence[Path]) -> bool:
        """Whether ``chunks`` hold :data:`COMPACT_SHARE` of the main file's rows, number
        :data:`COMPACT_CHUNKS`, or cannot be counted (read from the files' footers)."""
        if len(chunks) >= COMPACT_CHUNKS:
            return True
        main = self.folder / MAIN_FILE
        try:
            main_rows = feature_rows(main) if main.is_file() else 0
            chunk_rows = sum(feature_rows(c) for c in chunks)
        except Exception:  # an unreadable file: compaction reads what it can and records it
            return True
        return chunk_rows > COMPACT_SHARE * main_rows

    def _ensure_folder(self) -> None:
        """The folder and its KEY.txt (written again if a full disk stopped it the first time;
        it comes before any chunk, so a folder without one holds none)."""
        key_file = self.folder / "KEY.txt"
        if not key_file.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(f"{self.key}\n", key_file)


@dataclass
class FeatureUpdate:
    """Outcome of :func:`update_features`."""

    computed: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # content hash -> "reason: detail"
    seconds: float = 0.0


def update_features(
    store: FeatureStore,
    items: Sequence[tuple[str, Path]],
    extractor,
    *,
    checkpoint_every: int = 512,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
    compact: bool = True,
    thumbs: Callable[[list[str]], Any] | None = None,
) -> FeatureUpdate:
    """Compute features of the ``(content_hash, path)`` items not yet in ``store``.

    Items are deduplicated by hash (the first path wins). New rows are written as a chunk
    every ``checkpoint_every`` images, so a killed run loses at most one chunk and the next
    run reuses what was written. With ``compact`` the chunks are merged at the end when
    that is due (:meth:`FeatureStore.compaction_due`).
    ``thumbs``: the content hashes to compute -> what the extractor's ``iter_batches`` takes
    as ``thumbs`` (thumbnails written from the same decode).
    """
    if extractor.cache_key != store.key:
        raise ValueError(f"extractor key {extractor.cache_key!r} != store key {store.key!r}")
    t0 = time.perf_counter()
    first: dict[str, Path] = {}
    for h, p in items:
        first.setdefault(h, Path(p))
    known = store.known()
    todo = [(h, p) for h, p in first.items() if h not in known]
    result = FeatureUpdate(reused=len(first) - len(todo))
    if log is not None:
        log(f"features [{store.key}]: {len(first)} unique images, {result.reused} cached, "
            f"{len(todo)} to compute")
    buf_h: list[str] = []
    buf_f: list[np.ndarray] = []

    def flush() -> None:
        if buf_h:
            store.add(buf_h, np.concatenate(buf_f))
            result.computed += len(buf_h)
            buf_h.clear()
            buf_f.clear()

    if todo:
        paths = [p for _, p in todo]
        more = {} if thumbs is None else {"thumbs": thumbs([h for h, _ in todo])}
        try:
            for idx, feats, fails in extractor.iter_batches(paths, progress, **more):
                for i, msg in fails.items():
                    result.failed[todo[i][0]] = msg
                if len(idx):
                    buf_h.extend(todo[i][0] for i in idx)
                    buf_f.append(feats)
                if len(buf_h) >= checkpoint_every:
                    flush()
        finally:  # keep what was computed, also on Ctrl-C
            flush()
        if compact:
            store.compact(when_due=True)
    result.seconds = time.perf_counter() - t0
    if log is not None:
        log(f"features [{store.key}]: computed {result.computed}, reused {result.reused}, "
            f"failed {len(result.failed)} in {result.seconds:.1f} s")
    return result
