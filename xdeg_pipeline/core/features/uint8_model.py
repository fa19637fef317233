"""The torch half of :mod:`.export`: the backbone wrapped to take the input side's uint8
``(N, S, S, 3)`` batches, and torch's features of such a batch (the probe's reference)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xdeg_pipeline.core.features.spec import BackboneSpec


class Uint8Features(nn.Module):
    """``(N, S, S, 3)`` uint8 -> ``(N, dim)`` features: layout, scale and normalisation inside."""

    def __init__(self, model: nn.Module, spec: BackboneSpec) -> None:
        super().__init__()
        self.model = model
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("scale", 1.0 / (255.0 * std))
        self.register_buffer("shift", -mean / std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float()
        return self.model(x * self.scale + self.shift)


def torch_features(model: nn.Module, spec: BackboneSpec, x: np.ndarray) -> np.ndarray:
    """torch's features of a ``(N, S, S, 3)`` uint8 batch (the reference a runtime must match)."""
    with torch.inference_mode():
        return Uint8Features(model, spec).eval()(torch.from_numpy(x)).numpy()
