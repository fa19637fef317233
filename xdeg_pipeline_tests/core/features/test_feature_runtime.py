"""Inference runtimes: the choice, the exported-model cache, and the fallback to torch."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from xdeg_pipeline.core.features import export, runtime
from xdeg_pipeline.core.features.export import min_cosine
from xdeg_pipeline.core.features.extractor import FeatureExtractor

HAS_OV = runtime.module_available("openvino")
HAS_ORT = runtime.module_available("onnxruntime")
needs_ort = pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("rt_imgs")
    cat, astro, coffee = skdata.chelsea(), skdata.astronaut(), skdata.coffee()
    Image.fromarray(cat).resize((512, 384)).save(root / "cat.jpg", quality=90)
    Image.fromarray(coffee).resize((900, 500)).save(root / "wide.jpg", quality=90)
    Image.fromarray(astro).resize((300, 450)).save(root / "tall.png")
    rgba = np.dstack([astro[:200, :300], np.full((200, 300), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    (root / "broken.jpg").write_bytes(b"not an image" * 20)
    return sorted(root.iterdir())


@pytest.fixture(scope="module")
def torch_ref(files) -> tuple[np.ndarray, dict[int, str]]:
    fx = FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=2, runtime="torch")
    return fx.extract(files)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory) -> Path:
    """One export for the module (tests that damage it work on copies)."""
    cache = tmp_path_factory.mktemp("models")
    if HAS_ORT or HAS_OV:
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", model_cache=cache)
        assert fx.runtime != "torch", fx.choice.warnings
    return cache


def _copy(cache: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(cache, dst)
    return dst


def _same(a: np.ndarray, b: np.ndarray, ok: list[int]) -> None:
    assert min_cosine(a[ok], b[ok]) >= 0.999
    np.testing.assert_allclose(a[ok], b[ok], rtol=1e-3, atol=3e-4)


def test_candidates_and_names():
    cpu = torch.device("cpu")
    assert runtime.candidates("auto", cpu, Path("/x")) == (*runtime.CPU_PREFERENCE, "torch")
    assert runtime.candidates("auto", cpu, None) == ("torch",)  # nowhere to cache an export
    assert runtime.candidates("onnxruntime", cpu, None) == ("onnxruntime", "torch")
    assert runtime.candidates("openvino", torch.device("cuda"), Path("/x")) == ("torch",)
    assert runtime.candidates(" OpenVINO ", cpu, None)[0] == "openvino"
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        FeatureExtractor("efficientnet_lite0", device="cpu", runtime="tensorrt")


@pytest.mark.skipif(not (HAS_ORT or HAS_OV), reason="no inference runtime installed")
def test_default_runtime_same_features_and_cache_key(files, torch_ref, model_cache, tmp_path):
    ref, ref_fail = torch_ref
    fx = FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=2,
                          model_cache=model_cache)
    model = export.model_file(model_cache, fx.spec)
    stamp = model.stat().st_mtime_ns
    assert fx.runtime == (runtime.CPU_PREFERENCE[0] if HAS_OV else "onnxruntime")
    assert fx.overlaps_decoding()  # launch returns at once: decoding overlaps the model
    got, fails = fx.extract(files)
    assert fails == ref_fail and set(fails) == {0}  # broken.jpg, sorted first
    ok = [i for i in range(len(files)) if i not in fails]
    _same(got, ref, ok)
    assert model.stat().st_mtime_ns == stamp  # exported once, reused
    assert fx.cache_key == FeatureExtractor("efficientnet_lite0", device="cpu").cache_key
    assert not list(model_cache.glob(".*.tmp"))


_WITHOUT_TORCH = """
import json, sys
import numpy as np
from xdeg_pipeline.core.features.extractor import FeatureExtractor
files, cache, out = json.loads(sys.argv[1])
fx = FeatureExtractor("efficientnet_lite0", batch_size=2, model_cache=cache)
feats, fails = fx.extract(files)
np.save(out, feats)
print(json.dumps({"torch": "torch" in sys.modules, "runtime": fx.runtime,
                  "failed": sorted(fails),
                  "telemetry": bool(sys.modules.get("openvino_telemetry"))}))
"""


@pytest.mark.skipif(not (HAS_ORT or HAS_OV), reason="no inference runtime installed")
def test_a_cached_model_computes_without_torch(files, torch_ref, model_cache, tmp_path):
    """On a machine with no GPU and the exported model cached, a process computes features
    without importing torch (1.8 s of every build that has new images), and they are
    torch's. OpenVINO sends no usage telemetry: a user who never opted out (no consent file
    in a new home, not in CI, where OpenVINO keeps quiet by itself) gets no ``~/intel``."""
    import json
    import os
    import subprocess

    from xdeg_pipeline.core.features.device import gpu_possible

    if gpu_possible():
        pytest.skip("a GPU may be here: torch decides the device")
    out = tmp_path / "feats.npy"
    args = json.dumps([[str(f) for f in files], str(model_cache), str(out)])
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_TORCH, args], capture_output=True,
                          text=True, check=True, env={**env, "HOME": str(home)})
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["torch"] is False and said["runtime"] != "torch"
    assert not said["telemetry"] and not list(home.iterdir())
    ref, ref_fail = torch_ref
    assert said["failed"] == sorted(ref_fail)
    ok = [i for i in range(len(files)) if i not in ref_fail]
    _same(np.load(out), ref, ok)


@pytest.mark.parametrize("name", [n for n, ok in (("openvino", HAS_OV),
                                                   ("onnxruntime", HAS_ORT)) if ok])
def test_each_runtime_matches_torch_at_any_batch(name, files, torch_ref, model_cache):
    ref, ref_fail = torch_ref
    fx = FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=3, runtime=name,
                          model_cache=model_cache)
    assert fx.runtime == name
    ok = [i for i in range(len(files)) if i not in ref_fail]
    for bs in (3, 1, 4):  # a padded last batch, a new compiled batch size
        fx.batch_size = bs
        got, fails = fx.extract(files)
        assert fails == ref_fail
        _same(got, ref, ok)


@pytest.mark.skipif(not HAS_OV, reason="openvino not installed")
def test_openvino_keeps_what_it_compiled_and_compiles_a_damaged_one_again(
        files, torch_ref, model_cache, tmp_path):
    cache = _copy(model_cache, tmp_path)
    ref, ref_fail = torch_ref
    ok = [i for i in range(len(files)) if i not in ref_fail]
    for damaged in (False, True):
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=3,
                              runtime="openvino", model_cache=cache)
        got, _ = fx.extract(files)
        _same(got, ref, ok)
        blobs = sorted((cache / runtime.OPENVINO_CACHE).glob("*.blob"))
        assert any(b.stat().st_size > 100_000 for b in blobs)  # compiled again, kept again
        if not damaged:
            for blob in blobs:  # cut short, as a full disk or a killed process leaves it
                blob.chmod(0o600)
                blob.write_bytes(blob.read_bytes()[:1000])


@pytest.mark.skipif(not HAS_OV, reason="openvino not installed")
def test_openvino_compiles_into_its_cache_one_process_at_a_time(model_cache, tmp_path):
    """OpenVINO's cache is not safe for two processes compiling at once (a blob removed under
    the other's feet, 3 of 65 staggered pairs before the lock): a compile waits for the lock
    another process holds, then reads the compiled model from the cache."""
    import fcntl
    import threading

    from xdeg_pipeline.core.features.openvino_runner import LOCK_NAME, OpenVinoRunner

    cache = _copy(model_cache, tmp_path)
    spec = FeatureExtractor("efficientnet_lite0", device="cpu").spec
    compiled = cache / runtime.OPENVINO_CACHE
    compiled.mkdir(exist_ok=True)
    done: list[np.ndarray] = []

    def compile_and_run() -> None:
        runner = OpenVinoRunner(export.model_file(cache, spec), 1, batch=2, cache_dir=compiled)
        done.append(runner.run(np.zeros((2, spec.image_size, spec.image_size, 3), np.uint8)))

    with open(compiled / LOCK_NAME, "a+b") as held:  # another process's hold: a separate open
        fcntl.flock(held, fcntl.LOCK_EX)
        worker = threading.Thread(target=compile_and_run)
        worker.start()
        worker.join(timeout=2.0)
        assert worker.is_alive() and not done  # waiting for the lock
        fcntl.flock(held, fcntl.LOCK_UN)
    worker.join(timeout=60)
    assert not worker.is_alive() and done[0].shape == (2, 1280)


@needs_ort
def test_corrupt_cached_model_is_exported_again(files, torch_ref, model_cache, tmp_path,
                                                 caplog):
    cache = _copy(model_cache, tmp_path)
    spec = FeatureExtractor("efficientnet_lite0", device="cpu").spec
    export.model_file(cache, spec).write_bytes(b"\x08\x07garbage" * 100)
    with caplog.at_level(logging.WARNING, logger="xdeg_pipeline.features"):
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", runtime="onnxruntime",
                              model_cache=cache)
        assert fx.runtime == "onnxruntime"
    [warning] = [r.getMessage() for r in caplog.records]
    assert "exporting it again" in warning and "\n" not in warning
    ref, ref_fail = torch_ref
    got, _ = fx.extract(files)
    _same(got, ref, [i for i in range(len(files)) if i not in ref_fail])


@needs_ort
def test_broken_runtime_falls_back_to_torch(files, torch_ref, model_cache, tmp_path,
                                            monkeypatch, caplog):
    """A cached model that stays broken (the export fails too) -> torch, one line."""
    cache = _copy(model_cache, tmp_path)
    spec = FeatureExtractor("efficientnet_lite0", device="cpu").spec
    export.model_file(cache, spec).write_bytes(b"garbage")

    def no_export(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(export, "export_onnx", no_export)
    with caplog.at_level(logging.WARNING, logger="xdeg_pipeline.features"):
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", runtime="onnxruntime",
                              model_cache=cache)
        assert fx.runtime == "torch"
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-1].startswith("xdeg: the onnxruntime runtime is not usable (RuntimeError: "
                                "exporter crashed); using torch")
    assert all("\n" not in line for line in lines)
    ref, ref_fail = torch_ref
    got, fails = fx.extract(files)
    assert fails == ref_fail
    _same(got, ref, [i for i in range(len(files)) if i not in ref_fail])  # torch's own


@needs_ort
def test_wrong_features_fall_back(files, model_cache, tmp_path, monkeypatch, caplog):
    """A runtime that runs but computes something else never writes features."""
    from xdeg_pipeline.core.features import onnx_runner

    monkeypatch.setattr(onnx_runner.OnnxRunner, "run",
                        lambda self, x: np.random.default_rng(0).random((len(x), 1280)))
    with caplog.at_level(logging.WARNING, logger="xdeg_pipeline.features"):
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", runtime="onnxruntime",
                              model_cache=_copy(model_cache, tmp_path))
        assert fx.runtime == "torch"
    assert any("probe features differ from torch's" in r.getMessage() for r in caplog.records)


def test_missing_packages_fall_back(files, torch_ref, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING, logger="xdeg_pipeline.features"):
        fx = FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=2,
                              model_cache=tmp_path / "models")
        assert fx.runtime == "torch"
        assert not fx.overlaps_decoding()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "using onnxruntime" in lines[0] and "using torch" in lines[1]
    assert all("ImportError" in line or "ModuleNotFoundError" in line for line in lines)
    got, fails = fx.extract(files)
    ref, ref_fail = torch_ref
    assert fails == ref_fail
    np.testing.assert_array_equal(got[1:], ref[1:])  # the same runner, the same batches


@needs_ort
def test_explicit_runtime_without_cache_uses_a_temporary_folder(files):
    fx = FeatureExtractor("efficientnet_lite0", device="cpu", runtime="onnxruntime")
    assert fx.runtime == "onnxruntime"
    folder = Path(fx.choice._tmp.name)
    assert export.model_file(folder, fx.spec).is_file()
    fx.choice.close()
    assert not folder.exists()


def test_export_is_atomic(tmp_path, monkeypatch):
    """An export that fails half-way leaves no model file (nor temporary files) behind."""
    fx = FeatureExtractor("efficientnet_lite0", device="cpu", runtime="torch")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export, "write_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        export.export_onnx(fx.model, fx.spec, tmp_path)
    assert not export.model_file(tmp_path, fx.spec).exists()
    assert not list(tmp_path.glob(".*.tmp"))
