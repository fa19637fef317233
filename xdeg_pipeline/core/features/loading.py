"""Batching and loading: paths -> batches of preprocessed pixels (or raw JPEGs) in ring slots.

:func:`load_batches` yields one :class:`LoadedBatch` per batch of paths, in order, in one of
three ways (:class:`LoadPlan`):

* inline (``num_workers == 0``, the CPU default): each batch is decoded by a small thread pool
  in the calling thread, between two model steps, so decoding never competes with torch's
  threads for the cores; with a runner that computes on its own threads (an inference
  runtime: its ``launch`` returns at once) the next batch is decoded while the model runs
  this one (Pillow decodes and resizes without the GIL);
* worker processes (``num_workers > 0``): a DataLoader whose workers write into a ring of
  shared-memory batch slots (page-locked on CUDA);
* raw JPEG (the nvJPEG path): reader threads only read bytes and parse headers, at most
  ``2 * reader_threads`` batches ahead; a file nvJPEG should not see is decoded on the CPU by
  the same thread.

A broken file never stops a batch: it is reported in ``failures`` as ``"reason: detail"``.
With a :class:`~xdeg_pipeline.core.images.thumbnail.ThumbnailJob`, whoever decodes an image on
the CPU (thread or loader process) also writes its thumbnail from the same pixels, so a new
image is decoded once per build.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.jpeg_header import nvjpeg_candidate
from xdeg_pipeline.core.features.preprocess import (
    DEFAULT_FIT,
    decode_file,
    failure_text,
    fit_resize,
    preprocess_file,
)
from xdeg_pipeline.core.features.ring import Ring, RingPool
from xdeg_pipeline.core.images.thumbnail import ThumbnailJob

PREFETCH = 2  # batches in flight per loader worker
BYTES_PER_JPEG = 128 * 1024  # ring space per image for raw JPEG bytes (larger ones overflow)


@dataclass(frozen=True)
class LoadPlan:
    """How to load: batch size, image size, worker processes, raw JPEGs, reader threads, fit."""

    batch_size: int
    image_size: int
    num_workers: int = 0
    raw_jpeg: bool = False  # leave nvJPEG candidates as bytes (the GPU path)
    reader_threads: int = 1  # raw JPEG readers; inline decoding threads
    inline_threads: bool = True  # num_workers == 0: decode each batch with reader_threads
    fit: str = DEFAULT_FIT  # preprocess.FITS


@dataclass
class LoadedBatch:
    """One batch in ring slot ``slot``: ``idx`` (rows of the slot, preprocessed on the CPU),
    ``jidx`` and byte ranges ``joff`` of raw JPEGs left to nvJPEG (in the slot's byte buffer,
    or in ``jextra`` when they do not fit), and ``failures`` ``(index, "reason: detail")``."""

    slot: int
    idx: list[int]
    jidx: list[int] = field(default_factory=list)
    joff: list[int] = field(default_factory=lambda: [0])
    jextra: list[bytes] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)


class BatchDataset:
    """Item ``b`` = batch ``b`` of paths, decoded (in a worker process or a thread) into ring
    slot ``b % K`` (and writes the thumbnails ``thumbs`` asks for). A map-style dataset for
    torch's DataLoader (worker processes), which is imported only when workers are asked for."""

    def __init__(self, paths: Sequence[Path], batches: list[list[int]], size: int,
                 ring: Ring, raw_jpeg: bool, threads: int = 0, fit: str = DEFAULT_FIT,
                 thumbs: ThumbnailJob | None = None) -> None:
        self.paths = paths
        self.thumbs = thumbs
        self.batches = batches
        self.size = size
        self.fit = fit
        self.ring = ring
        self.raw_jpeg = raw_jpeg
        self.threads = threads  # > 1: decode one batch with that many threads (no workers)
        self._pool: Any = None

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> LoadedBatch:
        if self.threads > 1 and not self.raw_jpeg:
            return self._decode_threaded(b)
        slot = b % self.ring.images.shape[0]
        arr, buf = self.ring.slot(slot)
        out = LoadedBatch(slot, [])
        made: list[tuple[int, bytes]] = []
        for i in self.batches[b]:
            path = self.paths[i]
            try:
                if self.raw_jpeg:
                    data = read_regular(path)
                    if data is not None and nvjpeg_candidate(data):
                        end = out.joff[-1] + len(data)
                        if not out.jextra and end <= len(buf):
                            buf[out.joff[-1]:end] = np.frombuffer(data, dtype=np.uint8)
                            out.joff.append(end)
                        else:
                            out.jextra.append(data)
                        out.jidx.append(i)
                        continue
                arr[len(out.idx)] = self.pixels(i, made)
                out.idx.append(i)
            except Exception as exc:  # one bad file never kills a batch
                out.failures.append((i, failure_text(exc)))
        if self.thumbs is not None:
            self.thumbs.write(made)
        return out

    def pixels(self, i: int, made: list[tuple[int, bytes]]) -> np.ndarray:
        """The preprocessed pixels of path ``i`` (those of :func:`preprocess_file`) and, from
        the same decode, its thumbnail when one is wanted, appended to ``made`` (the batch
        writes them all at once: :meth:`ThumbnailJob.write`)."""
        thumbs = self.thumbs
        if thumbs is None or not thumbs.wanted(i):
            return preprocess_file(self.paths[i], self.size, self.fit)
        img, full = decode_file(self.paths[i], self.size, self.fit)
        out = fit_resize(img, self.size, self.fit)
        data = thumbs.encode(i, img, full)
        if data is not None:
            made.append((i, data))
        return out

    def _decode_threaded(self, b: int) -> LoadedBatch:
        """CPU path for one batch with a thread pool (Pillow decodes and resizes without the
        GIL): on a small CPU-only box, all cores decode between two model steps."""
        from concurrent.futures import ThreadPoolExecutor

        members = self.batches[b]
        slot = b % self.ring.images.shape[0]
        arr = self.ring.slot(slot)[0]
        made: list[tuple[int, bytes]] = []  # appended to by the threads (list.append is atomic)

        def one(pos: int) -> str | None:
            try:
                arr[pos] = self.pixels(members[pos], made)
            except Exception as exc:  # one bad file never kills a batch
                return failure_text(exc)
            return None

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="xdeg-decode")
        errors = list(self._pool.map(one, range(len(members))))
        if self.thumbs is not None:
            self.thumbs.write(made)
        ok = [pos for pos, err in enumerate(errors) if err is None]
        for row, pos in enumerate(ok):  # compact: good rows first, in order
            if row != pos:
                arr[row] = arr[pos]
        return LoadedBatch(slot, [members[p] for p in ok], failures=[
            (members[p], e) for p, e in enumerate(errors) if e is not None])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def read_regular(path: Path) -> bytearray | None:
    """The bytes of a regular file; ``None`` for anything else or an unreadable file."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        return bytearray(Path(path).read_bytes())
    except OSError:
        return None


def threaded(ds: BatchDataset, threads: int, window: int) -> Iterator[LoadedBatch]:
    """``ds[0], ds[1], ...`` computed by a thread pool, at most ``window`` batches ahead."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="xdeg-read") as pool:
        queue: deque = deque()
        nxt = 0
        while nxt < len(ds) and len(queue) < window:
            queue.append(pool.submit(ds.__getitem__, nxt))
            nxt += 1
        while queue:
            item = queue.popleft().result()
            if nxt < len(ds):
                queue.append(pool.submit(ds.__getitem__, nxt))
                nxt += 1
            yield item


def inline(ds: BatchDataset) -> Iterator[LoadedBatch]:
    """``ds[0], ds[1], ...`` in the calling thread (between model steps)."""
    try:
        for b in range(len(ds)):
            yield ds[b]
    finally:
        ds.close()


def _identity(x: Any) -> Any:
    return x


def _worker_init(_: int) -> None:
    import torch

    torch.set_num_threads(1)


def _slots(workers: int, extra: int) -> int:
    """Ring slots for ``workers`` loader processes (see :class:`Ring`) plus ``extra``."""
    return workers * PREFETCH + 3 + extra


def load_batches(paths: Sequence[Path], plan: LoadPlan, rings: RingPool, extra_slots: int = 0,
                 thumbs: ThumbnailJob | None = None) -> tuple[Iterator[LoadedBatch], Ring]:
    """Loaded batches of ``paths`` in order, and the ring their pixels / bytes are in.

    ``extra_slots``: ring slots beyond the loader's own, for batches a consumer holds on to.
    ``thumbs``: thumbnails to write from the pixels decoded on the CPU (aligned with ``paths``).
    """
    bs, size, fit = plan.batch_size, plan.image_size, plan.fit
    batches = [list(range(i, min(i + bs, len(paths)))) for i in range(0, len(paths), bs)]
    cap = bs * BYTES_PER_JPEG if plan.raw_jpeg else 0
    if plan.raw_jpeg:
        window = 2 * plan.reader_threads
        ring = rings.get(_slots(0, window + extra_slots), bs, size, cap, shared=False)
        ds = BatchDataset(paths, batches, size, ring, raw_jpeg=True, fit=fit, thumbs=thumbs)
        return threaded(ds, plan.reader_threads, window), ring
    workers = min(plan.num_workers, len(batches))
    ring = rings.get(_slots(workers, extra_slots), bs, size, cap, shared=workers > 0)
    if workers == 0:
        threads = plan.reader_threads if plan.inline_threads else 0
        ds = BatchDataset(paths, batches, size, ring, raw_jpeg=False, threads=threads, fit=fit,
                          thumbs=thumbs)
        return inline(ds), ring
    from torch.utils.data import DataLoader

    ds = BatchDataset(paths, batches, size, ring, raw_jpeg=False, fit=fit, thumbs=thumbs)
    loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=workers,
                        collate_fn=_identity, pin_memory=False, prefetch_factor=PREFETCH,
                        worker_init_fn=_worker_init, in_order=True, persistent_workers=False)
    return iter(loader), ring
