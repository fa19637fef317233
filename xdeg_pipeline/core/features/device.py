"""Device policy: which device, and the batch size, loader workers and precision it gets."""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "XDEG_DEVICE"  # named in messages; read by core.settings
# CPU: 4-8 measured fastest on 2 cores (~105 images/s; 16: 87, 32: 70: activations leave cache)
DEFAULT_BATCH = {"cuda": 256, "mps": 64, "cpu": 8}


def choose_device(override: str | None = None) -> torch.device:
    """``override`` (the user's device setting), else the first of cuda, mps, cpu available.

    Reads no environment: ``$XDEG_DEVICE`` reaches here through the caller's settings.
    """
    name = override or ""
    if not name or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested (the device setting, ${DEVICE_ENV}) "
                           "but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {name!r} requested (the device setting, ${DEVICE_ENV}) "
                           "but MPS is not available here")
    return device


def default_batch_size(device: torch.device) -> int:
    """Images per model step on ``device`` (:data:`DEFAULT_BATCH`, else 32)."""
    return DEFAULT_BATCH.get(device.type, 32)


def default_num_workers(device: torch.device) -> int:
    """Loader worker processes for CPU decoding.

    CUDA: one per core up to 16 (measured on a 16-core H100 box: 16 workers beat 14 and 8).
    CPU inference: none. Each batch is decoded by a thread pool between two model steps, so
    decoding never competes with torch's threads for the cores (on 2 cores: 79 images/s and
    0.89x the model alone, vs 68 images/s and 0.77x with one worker process beside them).
    """
    cpus = os.cpu_count() or 1
    if device.type == "cuda":
        return min(cpus, 16)
    if device.type == "cpu":
        return 0
    return min(cpus, 8)


def default_reader_threads() -> int:
    """Threads that read and decode files in this process (nvJPEG path, inline decoding)."""
    return max(1, min(8, os.cpu_count() or 1))


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The model's autocast precision on ``device``: float16 on CUDA, else none (float32)."""
    return torch.float16 if device.type == "cuda" else None
