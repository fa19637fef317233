"""Device policy: which device, and the batch size, loader workers and precision it gets.

On a machine with no GPU the device is decided without importing torch (:data:`CPU`), so an
inference runtime with a cached model (:mod:`.runtime`) computes features in a process that
never loads torch (about 1.8 s saved per build on a 2-core box).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import torch

DEVICE_ENV = "XDEG_DEVICE"  # named in messages; read by core.settings
# CPU: 4-8 measured fastest on 2 cores (~105 images/s; 16: 87, 32: 70: activations leave cache)
DEFAULT_BATCH = {"cuda": 256, "mps": 64, "cpu": 8}


GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")  # CUDA, ROCm, WSL 2


class CpuDevice(NamedTuple):
    """The CPU, named without importing torch (``type`` and ``index`` as a ``torch.device``)."""

    type: str = "cpu"
    index: int | None = None

    def __str__(self) -> str:
        return self.type


CPU = CpuDevice()


def gpu_possible() -> bool:
    """Whether torch might find a GPU here (a GPU device node, or macOS's MPS); no means
    the CPU, decided without importing torch."""
    return sys.platform == "darwin" or any(os.path.exists(p) for p in GPU_NODES)


def as_torch(device: Any) -> torch.device:
    """``device`` (a ``torch.device`` or :data:`CPU`) as a ``torch.device``."""
    import torch

    return device if isinstance(device, torch.device) else torch.device(device.type)


def choose_device(override: str | None = None) -> torch.device | CpuDevice:
    """``override`` (the user's device setting), else the first of cuda, mps, cpu available.

    The CPU is :data:`CPU` (torch not imported) when the setting is ``cpu`` or when no GPU can
    be here (:func:`gpu_possible`). Reads no environment: ``$XDEG_DEVICE`` reaches here
    through the caller's settings.
    """
    name = override or ""
    if name == "cpu" or (name in ("", "auto") and not gpu_possible()):
        return CPU
    import torch

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


def cpu_threads() -> int:
    """Threads for a model on the CPU: the physical cores this process may use (torch's own
    default, counted without importing it)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    counts = [c for c in (usable, physical, os.cpu_count()) if c]
    return max(1, min(counts)) if counts else 1


def default_batch_size(device: torch.device | CpuDevice) -> int:
    """Images per model step on ``device`` (:data:`DEFAULT_BATCH`, else 32)."""
    return DEFAULT_BATCH.get(device.type, 32)


def default_num_workers(device: torch.device | CpuDevice) -> int:
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


def autocast_dtype(device: torch.device | CpuDevice) -> torch.dtype | None:
    """The model's autocast precision on ``device``: float16 on CUDA, else none (float32)."""
    if device.type != "cuda":
        return None
    import torch

    return torch.float16
