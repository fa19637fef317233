"""Tiny models with random weights saved to files, and their features run directly (the
reference xdeg's must equal): timm (a CNN and a ViT), torchvision, an exported ONNX file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TIMM_CNN = "timm:resnet10t"
TIMM_VIT = "timm:vit_tiny_patch16_224?img_size=32&depth=2"
TORCHVISION = "torchvision:resnet18"
SIZE = 32  # tiny inputs: fast on 2 cores


def save_timm(name: str, path: Path, seed: int = 0) -> Path:
    """A timm model of ``timm:<arch>?kw=v`` with random weights, saved as a state dict."""
    import timm

    from xdeg_pipeline.core.features.models import split_arch

    torch.manual_seed(seed)
    arch, kwargs = split_arch(name.split(":", 1)[1])
    model = timm.create_model(arch, pretrained=False, **kwargs)
    torch.save(model.state_dict(), path)
    return path


def save_torchvision(path: Path, seed: int = 0) -> Path:
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def save_onnx(path: Path, seed: int = 0) -> Path:
    """A tiny CNN exported to ONNX (input 3x32x32 float, output its pooled 24-d embedding),
    its preprocessing in the metadata."""
    import onnx

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 24, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ).eval()
    torch.onnx.export(model, (torch.zeros(1, 3, SIZE, SIZE),), str(path), dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}})
    proto = onnx.load(str(path))
    for key, value in (("mean", "0.5,0.5,0.5"), ("std", "0.5,0.5,0.5"),
                       ("interpolation", "bilinear"), ("crop_pct", "1.0")):
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(proto, str(path))
    return path


def timm_direct(name: str, weights: Path, paths: list[Path], size: int | None = None
                ) -> np.ndarray:
    """The model run directly with timm's own eval transform and pre-logits head."""
    import timm
    from timm.data import create_transform, resolve_data_config

    from xdeg_pipeline.core.features.models import split_arch

    arch, kwargs = split_arch(name.split(":", 1)[1])
    model = timm.create_model(arch, pretrained=False, **kwargs)
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    cfg = resolve_data_config({}, model=model)
    if size:
        cfg["input_size"] = (3, size, size)
    tf = create_transform(**cfg)
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
    with torch.inference_mode():
        return model.forward_head(model.forward_features(x), pre_logits=True).numpy()


def torchvision_direct(weights: Path, paths: list[Path], size: int) -> np.ndarray:
    """resnet18 run directly: torchvision's transform (resize 256/224 of ``size``, crop)."""
    import torchvision
    from torchvision import transforms

    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.fc = torch.nn.Identity()
    model.eval()
    tf = transforms.Compose([
        transforms.Resize(int(math.floor(size / (224 / 256)))), transforms.CenterCrop(size),
        transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
    with torch.inference_mode():
        return model(x).numpy()


def onnx_direct(path: Path, paths: list[Path]) -> np.ndarray:
    """The ONNX model run directly: its metadata's transform (short side to 32, bilinear,
    centre crop), normalised 0.5/0.5."""
    import onnxruntime as ort
    from torchvision import transforms

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tf = transforms.Compose([transforms.Resize(SIZE), transforms.CenterCrop(SIZE),
                             transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths]).numpy()
    return sess.run(None, {"x": x})[0]
