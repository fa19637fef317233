"""ONNX Runtime as the model runner (CPU execution provider).

The session runs on one helper thread, so :meth:`OnnxRunner.launch` returns at once and the
input side decodes the next batch while the model works (ONNX Runtime computes without the
GIL). Its intra-op threads do not spin while idle, leaving those cycles to decoding.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np


def nhwc(x: Any) -> np.ndarray:
    """A prepared batch as contiguous ``(N, S, S, 3)`` numpy: the CPU input side's own
    NHWC array as it is, or a ``(N, 3, S, S)`` tensor (often a view of NHWC ring memory)."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def nchw(x: Any) -> np.ndarray:
    """A prepared batch as contiguous ``(N, 3, S, S)`` numpy (NHWC numpy, or an NCHW tensor)."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x.contiguous().numpy()


class OnnxRunner:
    """An exported model (:mod:`.export`) in an ONNX Runtime CPU session."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), opts,
                                            providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xdeg-onnx")

    def run(self, x: np.ndarray) -> np.ndarray:
        """Features of a ``(N, S, S, 3)`` uint8 batch (blocking)."""
        return self.session.run(None, {self._input: x})[0]

    def launch(self, x: Any, ready: Any) -> Future:
        return self._pool.submit(self.run, nhwc(x))

    def collect(self, launched: Future) -> np.ndarray:
        return np.asarray(launched.result(), dtype=np.float32)

    def features_from_uint8(self, x: Any) -> Any:
        import torch

        return torch.from_numpy(self.run(nhwc(x)))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
