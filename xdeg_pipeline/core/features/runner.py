"""Model runners: uint8 images on the device -> pooled features. The inference-runtime seam.

A runner gets uint8 batches as the input side prepared them (``(N, 3, S, S)`` tensors on the
extractor's device with a CUDA ready event, or on the CPU ``(N, S, S, 3)`` numpy arrays and
``None``) and owns everything after: the
normalisation (step 3 of :mod:`.preprocess`), the network, its precision and streams, and the
copy back to host memory. :meth:`ModelRunner.launch` starts a batch and returns at once
where the hardware allows; :meth:`ModelRunner.collect` waits for it. The extractor launches
batch ``k + 1`` before collecting batch ``k``, so a runner that works asynchronously (CUDA
streams, an inference runtime's own threads) overlaps the two.

:class:`TorchRunner` runs the torch module in eager mode, channels-last, float16 autocast on
CUDA. The other runtimes (:mod:`.openvino_runner`, :mod:`.onnx_runner`) are classes with the
same two methods, picked by :mod:`.runtime`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from xdeg_pipeline.core.features.device import CpuDevice, as_torch, autocast_dtype
from xdeg_pipeline.core.features.spec import BackboneSpec


class ModelRunner(Protocol):
    """What the extractor needs from an inference runtime (``name``: the runtime's)."""

    name: str

    def launch(self, x: Any, ready: Any) -> Any:
        """Start the model on ``x`` (uint8, as prepared) once ``ready`` has fired."""
        ...

    def collect(self, launched: Any) -> np.ndarray:
        """The ``(n, dim)`` float32 features of a launched batch (waits for them)."""
        ...


class TorchRunner:
    """The backbone as a torch module on ``device`` (eager, channels-last)."""

    name = "torch"

    def __init__(self, model: nn.Module, spec: BackboneSpec,
                 device: torch.device | CpuDevice) -> None:
        self.device = device = as_torch(device)
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self.amp_dtype = autocast_dtype(device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.model = model.to(device, memory_format=torch.channels_last).eval()
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = (1.0 / (255.0 * std)).to(device)
        self._shift = (-mean / std).to(device)

    def features_from_uint8(self, x: Any) -> torch.Tensor:
        """(N, 3, S, S) uint8 on the device, or (N, S, S, 3) numpy on the CPU -> (N, dim)
        features (device tensor, async)."""
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x).permute(0, 3, 1, 2)
        with torch.inference_mode():
            x = x.contiguous(memory_format=torch.channels_last).float()
            x = torch.addcmul(self._shift, x, self._scale)
            if self.amp_dtype is not None:
                with torch.autocast(self.device.type, dtype=self.amp_dtype):
                    return self.model(x)
            return self.model(x)

    def launch(self, x: Any, ready: Any) -> Any:
        """Start the model on a batch; returns what :meth:`collect` turns into features.

        On CUDA the model runs on the runner's stream and the features are copied
        asynchronously into page-locked memory, so waiting for batch ``k`` never waits for
        the batch ``k + 1`` queued behind it.
        """
        if self._stream is None:
            return self.features_from_uint8(x)
        with torch.cuda.stream(self._stream), torch.inference_mode():
            if ready is not None:
                self._stream.wait_event(ready)
            x.record_stream(self._stream)
            feats = self.features_from_uint8(x).float()
            host = torch.empty(feats.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(feats, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self._stream)
        return host, done

    def collect(self, launched: Any) -> np.ndarray:
        if self._stream is None:
            return launched.float().cpu().numpy()
        host, done = launched
        done.synchronize()
        return host.numpy().copy()
