"""The GPU JPEG path: raw JPEGs of a loaded batch -> preprocessed images on the device.

With ``gpu_decode=True`` (CUDA only) nvJPEG decodes at full size and
:func:`~.preprocess.preprocess_decoded` emulates the CPU preprocessing with torch ops: pixels
match the CPU path to within about one grey level on average, features to a cosine of ~0.996
or better. That is close, not identical, so nvJPEG features get their own ``cache_key``
(suffix ``-nvjpeg``). JPEGs that nvJPEG should not see (EXIF-rotated, progressive, CMYK, ...;
:mod:`.jpeg_header`) and every other format are decoded on the CPU by the loader, and so is a
file nvJPEG fails on (here).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from xdeg_pipeline.core.features.device import as_torch
from xdeg_pipeline.core.features.loading import LoadedBatch
from xdeg_pipeline.core.features.preprocess import (
    DEFAULT_FIT,
    failure_text,
    preprocess_decoded,
    preprocess_file,
)
from xdeg_pipeline.core.features.ring import Ring


def decode_raw_jpegs(item: LoadedBatch, ring: Ring, paths: Sequence[Path], size: int,
                     device: torch.device, failures: dict[int, str], fit: str = DEFAULT_FIT
                     ) -> tuple[list[int], torch.Tensor | None]:
    """nvJPEG-decode and preprocess the raw JPEGs of a batch.

    A file nvJPEG fails on is decoded on the CPU instead (or reported in ``failures``).
    Returns the indices and their ``(n, 3, S, S)`` uint8 images on the device.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    jidx = item.jidx
    if not jidx:
        return [], None
    off = item.joff
    device = as_torch(device)
    buf = torch.from_numpy(ring.slot(item.slot)[1])
    blobs = [buf[off[j]:off[j + 1]] for j in range(len(off) - 1)]
    blobs += [torch.frombuffer(bytearray(e), dtype=torch.uint8) for e in item.jextra]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision >= 0.29 deprecates its decoders
        try:
            decoded = decode_jpeg(blobs, mode=ImageReadMode.RGB, device=device)
            with torch.inference_mode():
                return jidx, preprocess_decoded(decoded, size, fit)
        except Exception:
            pass
        good_idx, good, cpu_idx, cpu = [], [], [], []
        for i, blob in zip(jidx, blobs, strict=True):
            try:
                good.append(decode_jpeg(blob, mode=ImageReadMode.RGB, device=device))
                good_idx.append(i)
            except Exception:
                try:
                    cpu.append(torch.from_numpy(preprocess_file(paths[i], size, fit)))
                    cpu_idx.append(i)
                except Exception as exc:
                    failures[i] = failure_text(exc)
    with torch.inference_mode():
        parts = [preprocess_decoded(good, size, fit)] if good else []
        if cpu:
            parts.append(torch.stack(cpu).to(device).permute(0, 3, 1, 2))
        if not parts:
            return [], None
        return good_idx + cpu_idx, torch.cat(parts)
