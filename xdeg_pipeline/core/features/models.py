"""Any model by name: ``timm:<architecture>``, ``torchvision:<name>``, ``onnx:<file>``.

The feature of an image is the model's pooled embedding: timm's ``forward_head(
forward_features(x), pre_logits=True)``, a torchvision classifier with its last linear layer
removed, an ONNX model's first output (averaged over the spatial positions when it is a
feature map). Preprocessing follows the model: timm's ``resolve_data_config`` (input size,
mean, std, interpolation, crop), torchvision's weights' transforms, an ONNX file's metadata
(``input_size``, ``mean``, ``std``, ``interpolation``, ``crop_pct``) or its static input
shape; the settings (:class:`.spec.ModelOptions`) override each.

Weights come from the file the user names (``$XDEG_WEIGHTS``), else the library's cache
(timm: the Hugging Face hub cache; torchvision: the torch hub cache); nothing is downloaded
unless ``pretrained_download`` (``$XDEG_PRETRAINED_DOWNLOAD``) allows it. A model that cannot
be loaded raises :class:`ModelNotLoaded`: one line naming the setting.

An architecture may take keyword arguments after ``?``: ``timm:vit_tiny_patch16_224?img_size=32``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import torch
from torch import nn

from xdeg_pipeline.core.features.spec import (
    BACKBONE_ENV,
    WEIGHTS_ENV,
    BackboneSpec,
    ModelOptions,
    WeightsNotFound,
    _file_id,
    model_fit,
    parse_backbone,
)

DOWNLOAD_ENV = "XDEG_PRETRAINED_DOWNLOAD"  # named in messages; read by core.settings
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class ModelNotLoaded(RuntimeError):
    """A ``timm:``/``torchvision:``/``onnx:`` model could not be loaded (one line)."""


class Embedding(nn.Module):
    """A model as ``(N,3,S,S) -> (N,dim)`` pooled embeddings; ``spatial`` gives the last
    feature map ``(N,C,h,w)`` the embedding is the mean of (None where it is not)."""

    def __init__(self, model: nn.Module, pooled: Callable[[torch.Tensor], torch.Tensor],
                 spatial: Callable[[torch.Tensor], torch.Tensor | None]) -> None:
        super().__init__()
        self.model = model
        self._pooled, self._spatial = pooled, spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pooled(x)

    def spatial(self, x: torch.Tensor) -> torch.Tensor | None:
        return self._spatial(x)


def split_arch(model: str) -> tuple[str, dict[str, Any]]:
    """``"arch?k=v&..."`` -> ``("arch", {k: literal v})``."""
    arch, _, query = model.partition("?")
    kwargs: dict[str, Any] = {}
    for key, value in parse_qsl(query):
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return arch, kwargs


def _fail(name: str, exc: BaseException | str) -> ModelNotLoaded:
    text = " ".join(str(exc).split())[:240]
    return ModelNotLoaded(f"backbone {name!r} (${BACKBONE_ENV}) could not be loaded: {text}")


def _weights_file(weights: str | Path | None) -> Path | None:
    if weights is None:
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsNotFound(f"weights file not found: {path} (${WEIGHTS_ENV})")
    return path


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a weights file (${WEIGHTS_ENV}): "
                         f"{type(exc).__name__}: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    return obj


def _timm(name: str, model: str, weights: Path | None, opts: ModelOptions
          ) -> tuple[Embedding, BackboneSpec, Path]:
    import timm
    from timm.data import resolve_data_config

    arch, kwargs = split_arch(model)
    net = timm.create_model(arch, pretrained=False, **kwargs)
    if weights is None:
        weights = _timm_cache(net, arch, kwargs, opts)
    net.load_state_dict(_state_dict(weights), strict=True)
    cfg = resolve_data_config({}, model=net)
    fixed = getattr(getattr(net, "patch_embed", None), "img_size", None)  # a ViT's own size
    size = int(fixed[-1]) if fixed else int(cfg["input_size"][-1])

    def spatial(x: torch.Tensor) -> torch.Tensor | None:
        f = net.forward_features(x)
        if f.ndim == 4:
            return f
        prefix = int(getattr(net, "num_prefix_tokens", 0))
        tokens = f[:, prefix:]
        side = int(round(tokens.shape[1] ** 0.5))
        if side * side != tokens.shape[1]:
            return None
        return tokens.transpose(1, 2).reshape(f.shape[0], f.shape[2], side, side)

    emb = Embedding(net, lambda x: net.forward_head(net.forward_features(x), pre_logits=True),
                    spatial)
    return emb, _spec(name, emb, opts, size, (cfg["mean"], cfg["std"]), cfg["interpolation"],
                      cfg["crop_pct"]), weights


def _timm_cache(net: nn.Module, arch: str, kwargs: dict, opts: ModelOptions) -> Path:
    """The pretrained weights in the Hugging Face hub cache (downloaded only if allowed)."""
    hub_id = (getattr(net, "pretrained_cfg", None) or {}).get("hf_hub_id")
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        for fname in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(hub_id, fname)
            if isinstance(found, str):
                return Path(found)
        if opts.pretrained_download:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(hub_id, "model.safetensors"))
    raise WeightsNotFound(f"no weights for timm:{arch}: name a file with ${WEIGHTS_ENV}, put "
                          f"them in the Hugging Face cache, or set {DOWNLOAD_ENV}=1")


def _last_linear_removed(net: nn.Module) -> nn.Module:
    """The classifier's last ``nn.Linear`` replaced by the identity (its input: the embedding)."""
    last = None
    for qual, mod in net.named_modules():
        if isinstance(mod, nn.Linear):
            last = qual
    if last is None:
        return net
    parent_name, _, child = last.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    setattr(parent, child, nn.Identity())
    return net


def _torchvision(name: str, model: str, weights: Path | None, opts: ModelOptions
                 ) -> tuple[Embedding, BackboneSpec, Path]:
    import torchvision

    arch, kwargs = split_arch(model)
    net = torchvision.models.get_model(arch, weights=None, **kwargs)
    size, interp, pct, norm = 224, "bilinear", 224 / 256, IMAGENET
    try:
        default = torchvision.models.get_model_weights(arch).DEFAULT
        tf = default.transforms()
        size, pct = int(tf.crop_size[0]), tf.crop_size[0] / tf.resize_size[0]
        interp, norm = tf.interpolation.value, (tuple(tf.mean), tuple(tf.std))
    except (ValueError, AttributeError, KeyError, IndexError):
        default = None
    if weights is None:
        weights = _hub_file(arch, default, opts)
    net.load_state_dict(_state_dict(weights), strict=True)
    body = _last_linear_removed(net.eval())
    feature_part = getattr(body, "features", None)

    def spatial(x: torch.Tensor) -> torch.Tensor | None:
        if feature_part is not None:
            return feature_part(x)
        if hasattr(body, "layer4"):
            return nn.Sequential(*list(body.children())[:-2])(x)
        return None

    emb = Embedding(body, body, spatial)
    return emb, _spec(name, emb, opts, size, norm, interp, pct), weights


def _hub_file(arch: str, default: Any, opts: ModelOptions) -> Path:
    if default is not None:
        hub = Path(torch.hub.get_dir()) / "checkpoints" / Path(default.url).name
        if hub.is_file():
            return hub
        if opts.pretrained_download:
            torch.hub.load_state_dict_from_url(default.url, progress=False)
            return hub
    raise WeightsNotFound(f"no weights for torchvision:{arch}: name a file with "
                          f"${WEIGHTS_ENV}, put them in the torch hub cache, or set "
                          f"{DOWNLOAD_ENV}=1")


def _spec(name: str, emb: nn.Module, opts: ModelOptions, size: int,
          norm: tuple[Any, Any], interp: str, pct: float) -> BackboneSpec:
    size = opts.input_size or size
    with torch.inference_mode():
        dim = int(emb.eval()(torch.zeros(1, 3, size, size)).shape[-1])
    mean = tuple(float(v) for v in (opts.mean or norm[0]))
    std = tuple(float(v) for v in (opts.std or norm[1]))
    fit = model_fit(opts.interpolation or interp, opts.crop_pct or pct)
    return BackboneSpec(name, size, mean, std, dim, fit=fit)  # type: ignore[arg-type]


def load_model(name: str, weights: str | Path | None, options: ModelOptions | None = None
               ) -> tuple[nn.Module | None, BackboneSpec, Path]:
    """``(embedding module or None for onnx, spec with weights hash, weights file)``."""
    opts = options or ModelOptions()
    kind, model = parse_backbone(name)
    try:
        if kind == "onnx":
            from xdeg_pipeline.core.features.onnx_model import describe_onnx

            emb = None
            spec, path = describe_onnx(name, Path(model).expanduser(), opts)
        else:
            loader = _timm if kind == "timm" else _torchvision
            emb, spec, path = loader(name, model, _weights_file(weights), opts)
    except WeightsNotFound as exc:
        raise _fail(name, exc) from None
    except Exception as exc:  # any library's error: one line naming the setting
        raise _fail(name, f"{type(exc).__name__}: {exc}") from None
    spec = BackboneSpec(**{**spec.__dict__, "weights_id": _file_id(path)})
    return None if emb is None else emb.eval(), spec, path


def describe(name: str, weights: str | Path | None, options: ModelOptions
             ) -> tuple[BackboneSpec, Path]:
    """The spec (with weights hash) and the weights file of a model, by loading it."""
    _, spec, path = load_model(name, weights, options)
    return spec, path
