"""Reusable batch slots in (shared, page-locked) memory that loaders decode into."""

from __future__ import annotations

from typing import Any

import numpy as np


class Ring:
    """Reusable batch slots in shared memory: workers write decoded pixels (and raw JPEG
    bytes) straight into slot ``b % K``, so no batch allocates, faults in and frees fresh
    shared memory. On CUDA the slots are page-locked (``cudaHostRegister``) for async copies.

    Safety: the loader returns batches in order and keeps at most ``workers * prefetch``
    batches in flight, so slot ``b % K`` is rewritten only ``K`` batches later, when the
    consumer is done with batch ``b`` (``K = workers * prefetch + 3``).

    Slots neither shared nor page-locked (the CPU default: decoding in this process) are
    numpy arrays, so that path never imports torch; :meth:`slot` reads either kind as numpy.
    """

    def __init__(self, slots: int, batch: int, size: int, byte_cap: int, shared: bool,
                 pin: bool) -> None:
        self.shape = (slots, batch, size, size, byte_cap)
        self._registered: list[int] = []
        self.pinned = False
        if not shared and not pin:
            self.images: Any = np.empty((slots, batch, size, size, 3), dtype=np.uint8)
            self.bytes: Any = np.empty((slots, max(byte_cap, 1)), dtype=np.uint8)
            return
        import torch

        self.images = torch.empty((slots, batch, size, size, 3), dtype=torch.uint8)
        self.bytes = torch.empty((slots, max(byte_cap, 1)), dtype=torch.uint8)
        if shared:
            self.images.share_memory_()
            self.bytes.share_memory_()
        if pin:
            cudart = torch.cuda.cudart()
            for t in (self.images, self.bytes):
                nbytes = t.numel() * t.element_size()
                if int(cudart.cudaHostRegister(t.data_ptr(), nbytes, 0)) == 0:
                    self._registered.append(t.data_ptr())
        self.pinned = len(self._registered) == 2

    def slot(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Slot ``b``'s images ``(batch, S, S, 3)`` and bytes as numpy arrays (no copy)."""
        images, raw = self.images[b], self.bytes[b]
        if isinstance(images, np.ndarray):
            return images, raw
        return images.numpy(), raw.numpy()

    def close(self) -> None:
        if self._registered:
            import torch

            cudart = torch.cuda.cudart()
            for ptr in self._registered:
                cudart.cudaHostUnregister(ptr)
            self._registered = []


class RingPool:
    """One ring kept between calls, rebuilt (and the old one released) when its shape changes."""

    def __init__(self, pin: bool) -> None:
        self.pin = pin
        self._ring: Ring | None = None

    def get(self, slots: int, batch: int, size: int, byte_cap: int, shared: bool) -> Ring:
        shape = (slots, batch, size, size, byte_cap)
        if self._ring is None or self._ring.shape != shape:
            self.close()
            self._ring = Ring(slots, batch, size, byte_cap, shared=shared, pin=self.pin)
        return self._ring

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()
            self._ring = None
