"""Any model by name: timm (a CNN and a ViT), torchvision and ONNX models with random weights
saved to files give, through xdeg, the features of the model run directly."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from xdeg_pipeline.core.features.export import min_cosine
from xdeg_pipeline.core.features.extractor import FeatureExtractor
from xdeg_pipeline.core.features.models import ModelNotLoaded
from xdeg_pipeline.core.features.spec import ModelOptions, weighted_spec
from xdeg_pipeline_tests.helpers import tiny_models as tm


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("imgs")
    out = []
    for i, (pic, size) in enumerate([(skdata.chelsea(), (120, 90)), (skdata.astronaut(), (80, 96)),
                                     (skdata.coffee(), (100, 100)), (skdata.rocket(), (70, 140))]):
        out.append(root / f"{i}.png")
        Image.fromarray(pic).resize(size).save(out[-1])
    return out


def _features(name: str, weights: Path | None, images: list[Path], cache: Path,
              runtime: str = "torch", **opts) -> tuple[np.ndarray, FeatureExtractor]:
    ex = FeatureExtractor(name, weights, device="cpu", runtime=runtime, model_cache=cache,
                          model_options=ModelOptions(**opts), num_workers=0)
    feats, failures = ex.extract(images)
    assert not failures
    return feats, ex


def _timm_equal(images: list[Path], tmp_path: Path, runtime: str) -> None:
    cnn = tm.save_timm(tm.TIMM_CNN, tmp_path / "cnn.pth")
    vit = tm.save_timm(tm.TIMM_VIT, tmp_path / "vit.pth")
    got, ex = _features(tm.TIMM_CNN, cnn, images, tmp_path / "m", runtime, input_size=64)
    assert ex.runtime == runtime and ex.spec.fit.startswith("rc:bicubic:")
    assert min_cosine(got, tm.timm_direct(tm.TIMM_CNN, cnn, images, 64)) >= 0.999
    got, ex = _features(tm.TIMM_VIT, vit, images, tmp_path / "m", runtime)
    assert ex.spec.image_size == 32 and ex.dim == 192
    assert min_cosine(got, tm.timm_direct(tm.TIMM_VIT, vit, images, 32)) >= 0.999


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime", "openvino"])
def test_timm_cnn_and_vit_equal_the_model_run_directly(images, tmp_path, runtime) -> None:
    if runtime != "openvino":
        _timm_equal(images, tmp_path, runtime)
        return
    # OpenVINO in a process of its own: after these tiny timm models were compiled by OpenVINO
    # in the test process, a later test (after test_features.py's) crashed that process with a
    # segmentation fault; the build itself runs them in its own process too.
    child = multiprocessing.get_context("spawn").Process(
        target=_timm_equal, args=(list(images), tmp_path, runtime))
    child.start()
    child.join(600)
    assert child.exitcode == 0, "the OpenVINO comparison failed in its process (see stderr)"


def test_torchvision_and_onnx_equal_the_model_run_directly(images, tmp_path) -> None:
    w = tm.save_torchvision(tmp_path / "r18.pth")
    got, ex = _features(tm.TORCHVISION, w, images, tmp_path / "m", input_size=32)
    assert ex.dim == 512
    assert min_cosine(got, tm.torchvision_direct(w, images, 32)) >= 0.999
    onnx_file = tm.save_onnx(tmp_path / "tiny.onnx")
    got, ex = _features(f"onnx:{onnx_file}", None, images, tmp_path / "m")
    assert (ex.spec.image_size, ex.spec.mean, ex.dim) == (32, (0.5, 0.5, 0.5), 24)
    assert ex.cache_key.startswith(f"onnx-tiny-w{ex.spec.weights_id}") and ex.spec.weights_id
    assert min_cosine(got, tm.onnx_direct(onnx_file, images)) >= 0.999


def test_the_cache_key_names_the_model_and_its_weights(tmp_path) -> None:
    a = tm.save_timm(tm.TIMM_CNN, tmp_path / "a.pth", seed=1)
    b = tm.save_timm(tm.TIMM_CNN, tmp_path / "b.pth", seed=2)
    cache = tmp_path / "m"
    ka = FeatureExtractor(tm.TIMM_CNN, a, device="cpu", model_cache=cache).cache_key
    kb = FeatureExtractor(tm.TIMM_CNN, b, device="cpu", model_cache=cache).cache_key
    assert ka.startswith("timm-resnet10t-w") and ka != kb
    assert len(list((cache / "specs").glob("*.json"))) == 2  # described once, then read back
    assert weighted_spec(tm.TIMM_CNN, a, None, cache).weights_id in ka


def test_a_model_that_fails_to_load_says_so_in_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    for name, weights in ((tm.TIMM_CNN, bad), ("timm:no_such_arch", bad),
                          ("timm:resnet10t", None), (f"onnx:{tmp_path / 'x.onnx'}", None)):
        with pytest.raises(ModelNotLoaded) as err:
            weighted_spec(name, weights, None, tmp_path / "m")
        assert "\n" not in str(err.value) and "XDEG_BACKBONE" in str(err.value)
        if weights is bad and name == tm.TIMM_CNN:
            assert "not a weights file ($XDEG_WEIGHTS)" in str(err.value)
    with pytest.raises(ValueError, match="XDEG_BACKBONE"):
        weighted_spec("keras:foo")
