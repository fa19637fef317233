"""The input side: loaded batches -> uint8 images on the device, ready for a model runner.

On the CPU a prepared batch is the ring slot's own ``(n, S, S, 3)`` numpy rows (no copy, no
torch); on a GPU a ``(n, 3, S, S)`` tensor on the device.

On CUDA each thread uploads (and nvJPEG-decodes) on its own stream, never on the legacy
default stream, and every prepared batch carries an event marking when its images are ready,
so the model stream waits for exactly that batch. With nvJPEG, ``decode_threads`` batches are
decoded concurrently in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from xdeg_pipeline.core.features.loading import LoadedBatch, LoadPlan, load_batches
from xdeg_pipeline.core.features.ring import Ring, RingPool
from xdeg_pipeline.core.images.thumbnail import ThumbnailJob

if TYPE_CHECKING:
    import torch

    from xdeg_pipeline.core.features.device import CpuDevice


class PreparedBatch(NamedTuple):
    """Indices into the paths, their uint8 images (``(n, 3, S, S)`` on the device, or on the
    CPU ``(n, S, S, 3)`` numpy; ``None`` when the whole batch failed), failures
    ``{index: "reason: detail"}``, and a CUDA event marking when the images are ready
    (``None`` off CUDA)."""

    idx: list[int]
    images: Any
    failures: dict[int, str]
    ready: Any


class InputSide:
    """Loads batches of paths and brings their images onto ``device``."""

    def __init__(self, device: torch.device | CpuDevice) -> None:
        self.device = device
        self.rings = RingPool(pin=device.type == "cuda")
        self._local = threading.local()  # per-thread CUDA stream of the input side

    def batches(self, paths: Sequence[Path], plan: LoadPlan, decode_threads: int = 0,
                thumbs: ThumbnailJob | None = None) -> Iterator[PreparedBatch]:
        """Prepared batches of ``paths`` in order (``decode_threads``: nvJPEG path only;
        ``thumbs``: thumbnails written by the CPU decoders, see :func:`.load_batches`)."""
        threads = decode_threads if plan.raw_jpeg else 0
        loader, ring = load_batches(paths, plan, self.rings, extra_slots=threads, thumbs=thumbs)
        if threads <= 1:
            for item in loader:
                yield self._prepare_async(item, ring, paths, plan)
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="xdeg-nvjpeg") as pool:
            queue: deque = deque()
            for item in loader:
                queue.append(pool.submit(self._prepare_async, item, ring, paths, plan))
                if len(queue) >= threads:
                    yield queue.popleft().result()
            while queue:
                yield queue.popleft().result()

    def _prepare(self, item: LoadedBatch, ring: Ring, paths: Sequence[Path], plan: LoadPlan
                 ) -> tuple[list[int], Any, dict[int, str]]:
        """A loaded batch -> (indices, uint8 images as :class:`PreparedBatch` holds them,
        failures)."""
        failures = {int(i): str(msg) for i, msg in item.failures}
        idx = list(item.idx)
        if self.device.type == "cpu" and not plan.raw_jpeg:
            return idx, (ring.slot(item.slot)[0][: len(idx)] if idx else None), failures
        import torch

        from xdeg_pipeline.core.features.device import as_torch
        from xdeg_pipeline.core.features.nvjpeg import decode_raw_jpegs

        parts: list[torch.Tensor] = []
        if idx:
            cpu = ring.images[item.slot][: len(idx)]
            if not isinstance(cpu, torch.Tensor):  # a slot in this process's own memory
                cpu = torch.from_numpy(cpu)
            with torch.inference_mode():
                parts.append(cpu.to(as_torch(self.device), non_blocking=ring.pinned)
                             .permute(0, 3, 1, 2))
        if plan.raw_jpeg:
            jidx, decoded = decode_raw_jpegs(item, ring, paths, plan.image_size, self.device,
                                             failures, plan.fit)
            if decoded is not None:
                idx += jidx
                parts.append(decoded)
        if not idx:
            return [], None, failures
        with torch.inference_mode():
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
        return idx, x, failures

    def _prepare_async(self, item: LoadedBatch, ring: Ring, paths: Sequence[Path],
                       plan: LoadPlan) -> PreparedBatch:
        """:meth:`_prepare` plus, on CUDA, the event marking when its images are ready.

        The legacy default stream synchronises with every other stream and would serialise
        nvJPEG, the uploads and the model, hence a stream per thread.
        """
        if self.device.type != "cuda":
            return PreparedBatch(*self._prepare(item, ring, paths, plan), None)
        import torch

        stream = getattr(self._local, "stream", None)
        if stream is None:
            stream = self._local.stream = torch.cuda.Stream(self.device)
        with torch.cuda.stream(stream):
            idx, x, fails = self._prepare(item, ring, paths, plan)
            ready = torch.cuda.Event()
            ready.record(stream)
        return PreparedBatch(idx, x, fails, ready)

    def close(self) -> None:
        """Release the ring (unregisters page-locked memory on CUDA)."""
        self.rings.close()
