"""The backbone exported once to ONNX for an inference runtime, cached by weights hash.

The exported graph takes what the input side prepares, ``(N, S, S, 3)`` uint8 (the ring
slots' layout), and does step 3 of :mod:`.preprocess` itself (scale, normalise), so a runtime
gets the bytes as they are. Beside each model a *probe* file holds a fixed input batch and
torch's features of it: a runtime must reproduce them (min cosine :data:`PROBE_MIN_COSINE`)
before it is used, so a damaged, stale or miscompiled model falls back to torch instead of
writing wrong features.

Files (``cache_dir`` is the caller's folder, e.g. the data folder's model cache):
``<backbone>-w<weights hash>-x<EXPORT_VERSION>.onnx`` and ``....probe.npz``, each written
atomically, the model last.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.spec import BackboneSpec, key_name
from xdeg_pipeline.core.storage.atomic import write_bytes, write_with

EXPORT_VERSION = 1  # bump when the exported graph changes (input layout, normalisation, opset)
OPSET = 17
PROBE_BATCH = 2
PROBE_MIN_COSINE = 0.999


def model_stem(spec: BackboneSpec) -> str:
    """The file name stem of a backbone's exported model (backbone, weights hash, version)."""
    return f"{key_name(spec.name)}-w{spec.weights_id}-x{EXPORT_VERSION}"


def model_file(cache_dir: Path, spec: BackboneSpec) -> Path:
    return Path(cache_dir) / f"{model_stem(spec)}.onnx"


def probe_file(cache_dir: Path, spec: BackboneSpec) -> Path:
    return Path(cache_dir) / f"{model_stem(spec)}.probe.npz"


def probe_input(spec: BackboneSpec, batch: int = PROBE_BATCH) -> np.ndarray:
    """A fixed, image-like ``(batch, S, S, 3)`` uint8 input: smooth colour fields and edges."""
    s = spec.image_size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
    out = np.empty((batch, s, s, 3), np.uint8)
    for b in range(batch):
        r = 128 + 100 * np.sin(6.0 * xx + b) * np.cos(4.0 * yy)
        g = 255 * ((xx + yy * (b + 1)) % 1.0)
        bl = np.where((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1, 230.0, 30.0 + 60 * b)
        out[b] = np.clip(np.stack([r, g, bl], axis=-1), 0, 255).astype(np.uint8)
    return out


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine similarity of two ``(n, d)`` arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    return float(cos.min())


ModelSource = Any  # an ``nn.Module``, or a callable that loads it (``Callable[[], nn.Module]``)


def export_onnx(model: ModelSource, spec: BackboneSpec, cache_dir: Path) -> Path:
    """The backbone's ONNX model in ``cache_dir``: exported (and its probe written) unless a
    complete pair is already there, in which case neither torch nor the model is loaded.
    Returns the model's path."""
    target, probe = model_file(cache_dir, spec), probe_file(cache_dir, spec)
    if target.is_file() and probe.is_file():
        return target
    import torch

    from xdeg_pipeline.core.features.uint8_model import Uint8Features, torch_features

    if not isinstance(model, torch.nn.Module):
        model = model()
    wrapped = Uint8Features(model.float().eval(), spec).eval()
    x = torch.from_numpy(probe_input(spec))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(wrapped, (x,), buf, dynamo=False, input_names=["images"],
                          output_names=["features"], opset_version=OPSET,
                          dynamic_axes={"images": {0: "n"}, "features": {0: "n"}})
    ref = torch_features(model, spec, x.numpy())

    def _probe(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez(fh, x=x.numpy(), features=ref)

    write_with(probe, _probe)
    write_bytes(buf.getvalue(), target)
    return target


def read_probe(cache_dir: Path, spec: BackboneSpec) -> tuple[np.ndarray, np.ndarray]:
    """The probe input and torch's features of it."""
    with np.load(probe_file(cache_dir, spec)) as z:
        return z["x"], z["features"]
