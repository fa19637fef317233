"""``onnx:<file>``: a model exported by the user, run by ONNX Runtime on CPU.

The model takes ``(N, 3, S, S)`` float32 images normalised with its mean and std, and gives
its embedding (first output; a ``(N, C, h, w)`` feature map is averaged over its positions).
``S``, mean, std, interpolation and crop come from the settings, else from the model's
metadata (``metadata_props``: ``input_size``, ``mean``, ``std`` as ``"0.5,0.5,0.5"``,
``interpolation``, ``crop_pct``), else from its static input shape and ImageNet's statistics.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.onnx_runner import nchw
from xdeg_pipeline.core.features.spec import BackboneSpec, ModelOptions, model_fit

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _triple(text: str) -> tuple[float, float, float]:
    values = tuple(float(v) for v in text.replace(" ", "").split(","))
    if len(values) != 3:
        raise ValueError(f"expected three numbers, got {text!r}")
    return values  # type: ignore[return-value]


def _session(path: Path, threads: int = 0) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def pooled(out: np.ndarray) -> np.ndarray:
    """An output as ``(N, dim)``: a feature map averaged over its positions."""
    out = np.asarray(out, np.float32)
    if out.ndim == 4:
        return out.mean(axis=(2, 3))
    if out.ndim == 3:
        return out.mean(axis=1)
    return out.reshape(out.shape[0], -1)


def describe_onnx(name: str, path: Path, opts: ModelOptions) -> tuple[BackboneSpec, Path]:
    """The spec of an ONNX model (its weights hash is the file's, added by the caller)."""
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    size = opts.input_size or int(meta.get("input_size", 0)) or (dims[-1] if len(dims) == 4
                                                                 else 0)
    if not size:
        raise ValueError(f"{path.name}: no input size (set XDEG_INPUT_SIZE or the model's "
                         "metadata input_size)")
    mean = opts.mean or (_triple(meta["mean"]) if "mean" in meta else IMAGENET[0])
    std = opts.std or (_triple(meta["std"]) if "std" in meta else IMAGENET[1])
    fit = model_fit(opts.interpolation or meta.get("interpolation", "bilinear"),
                    opts.crop_pct or float(meta.get("crop_pct", 1.0)))
    sess = _session(path, 1)
    out = sess.run(None, {sess.get_inputs()[0].name: np.zeros((1, 3, size, size), np.float32)})
    dim = pooled(out[0]).shape[1]
    return BackboneSpec(name, size, mean, std, dim, fit=fit), path


class OnnxModelRunner:
    """The user's ONNX model as the extractor's runner (normalisation done here)."""

    name = "onnxruntime"

    def __init__(self, path: Path, spec: BackboneSpec, threads: int) -> None:
        self.session = _session(path, threads)
        self._input = self.session.get_inputs()[0].name
        mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1)
        self._scale, self._shift = 1.0 / (255.0 * std), -mean / std
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xdeg-onnx-model")

    def run(self, x: np.ndarray) -> np.ndarray:
        """Embeddings of a ``(N, 3, S, S)`` uint8 batch (blocking)."""
        x = (x.astype(np.float32) * self._scale + self._shift).astype(np.float32)
        return pooled(self.session.run(None, {self._input: x})[0])

    def launch(self, x: Any, ready: Any) -> Future:
        return self._pool.submit(self.run, nchw(x))

    def collect(self, launched: Future) -> np.ndarray:
        return np.asarray(launched.result(), dtype=np.float32)

    def features_from_uint8(self, x: Any) -> Any:
        import torch

        return torch.from_numpy(self.run(nchw(x)))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
