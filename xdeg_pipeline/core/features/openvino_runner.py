"""OpenVINO as the model runner (CPU plugin, float32).

The model is compiled for a fixed batch, at least the extractor's batch size (a smaller batch,
e.g. the last one or a shard's few new images, is padded), which OpenVINO runs faster than a
dynamic one; a larger batch compiles once more. With ``cache_dir`` OpenVINO keeps each compiled
model there (its own cache: keyed by the model, the settings, the OpenVINO version and the CPU;
a damaged entry is compiled again), which halves the compile a build of a few new images pays
(0.35-0.42 s -> 0.12-0.21 s for EfficientNet-Lite0 at batch 32). Two infer requests alternate,
so :meth:`OpenVinoRunner.launch` returns at once (``start_async``) and the input side decodes
the next batch while OpenVINO's own threads run this one.

Compiling with a cache is serialised across processes by a lock file in ``cache_dir``
(:func:`compile_lock`): OpenVINO's cache is not safe for two processes at once, a second one
starting a moment after the first (Dask workers, shards) failed one time in 25 ("cannot set
permissions: No such file or directory [...blob]") and its shard fell back to another runtime.

OpenVINO is imported without its usage telemetry (:func:`import_openvino`).
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.onnx_runner import nhwc


def import_openvino() -> Any:
    """``openvino``, kept from sending usage telemetry. Importing it sends a Google Analytics
    event from a forked process (and writes ``~/intel/``) unless the user opted out with
    OpenVINO's ``opt_in_out``; with its telemetry package marked absent OpenVINO uses its own
    no-op stub. xdeg sends nothing anywhere, as its Dagster instance has telemetry off. A
    telemetry package the process already imported is left as it is."""
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


LOCK_NAME = ".compile.lock"


@contextlib.contextmanager
def compile_lock(cache_dir: Path | None) -> Iterator[None]:
    """Held while a model compiles into ``cache_dir`` (none without a cache): one process (or
    thread) at a time; the next then reads the compiled model from the cache."""
    if cache_dir is None:
        yield
        return
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(cache_dir) / LOCK_NAME, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class OpenVinoRunner:
    """An exported model (:mod:`.export`) compiled by OpenVINO for the CPU."""

    name = "openvino"

    def __init__(self, model_path: Path, threads: int, hint: str = "LATENCY",
                 batch: int = 1, cache_dir: Path | None = None) -> None:
        ov = import_openvino()
        self.batch = max(1, int(batch))
        self._core = ov.Core()
        self._cache_dir = cache_dir
        if cache_dir is not None:
            with compile_lock(cache_dir):
                self._core.set_property({"CACHE_DIR": str(cache_dir)})
        self._model = self._core.read_model(str(model_path))
        self._config = {"INFERENCE_NUM_THREADS": max(1, threads), "PERFORMANCE_HINT": hint,
                        "INFERENCE_PRECISION_HINT": "f32"}
        self._compiled: dict[int, tuple[Any, list[Any]]] = {}
        self._turn = 0

    def _requests(self, n: int) -> tuple[int, list[Any]]:
        """The batch size to run ``n`` images at (padded up to a compiled one) and its
        requests; compiles for ``n`` when no compiled batch is large enough."""
        fits = [b for b in self._compiled if b >= n]
        if fits:
            b = min(fits)
            return b, self._compiled[b][1]
        n = max(n, self.batch)
        model = self._model.clone()
        s = int(model.input(0).get_partial_shape()[1].get_length())
        model.reshape([n, s, s, 3])
        with compile_lock(self._cache_dir):
            compiled = self._core.compile_model(model, "CPU", self._config)
        requests = [compiled.create_infer_request() for _ in range(2)]
        self._compiled[n] = (compiled, requests)
        return n, requests

    def launch(self, x: Any, ready: Any) -> tuple[Any, int]:
        arr = nhwc(x)
        n = arr.shape[0]
        b, requests = self._requests(n)
        if b > n:
            arr = np.concatenate([arr, np.zeros((b - n, *arr.shape[1:]), arr.dtype)])
        self._turn = (self._turn + 1) % len(requests)
        req = requests[self._turn]
        req.start_async({0: arr})
        return req, n

    def collect(self, launched: tuple[Any, int]) -> np.ndarray:
        req, n = launched
        req.wait()
        return np.array(req.get_output_tensor(0).data[:n], dtype=np.float32)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Features of a ``(N, S, S, 3)`` uint8 batch (blocking)."""
        return self.collect(self.launch(x, None))

    def features_from_uint8(self, x: Any) -> Any:
        import torch

        return torch.from_numpy(self.collect(self.launch(x, None)))

    def close(self) -> None:
        self._compiled.clear()
