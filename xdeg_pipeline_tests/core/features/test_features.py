"""FeatureExtractor: shapes, failures, batch sizes, CPU vs torch (nvJPEG) preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from xdeg_pipeline.core.features import device as device_policy
from xdeg_pipeline.core.features import loading
from xdeg_pipeline.core.features.device import CPU, choose_device
from xdeg_pipeline.core.features.extractor import FeatureExtractor
from xdeg_pipeline.core.features.jpeg_header import nvjpeg_candidate
from xdeg_pipeline.core.features.preprocess import preprocess_decoded, preprocess_file

GOOD = ("a_cat.jpg", "b_wide.jpg", "c_tall.png", "d_grey.png", "e_rgba.png", "f_small.jpg",
        "g_rotated.jpg")
BAD = {"x_empty.jpg": "empty", "y_garbage.jpg": "not_an_image", "z_truncated.jpg": "truncated"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("imgs")
    cat, astro, coffee = skdata.chelsea(), skdata.astronaut(), skdata.coffee()
    Image.fromarray(cat).resize((512, 512)).save(root / "a_cat.jpg", quality=90)
    Image.fromarray(coffee).resize((900, 500)).save(root / "b_wide.jpg", quality=90)
    Image.fromarray(astro).resize((300, 450)).save(root / "c_tall.png")
    Image.fromarray(skdata.camera()).save(root / "d_grey.png")
    rgba = np.dstack([astro[:200, :300], np.full((200, 300), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "e_rgba.png")
    Image.fromarray(coffee).resize((120, 90)).save(root / "f_small.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: load_rgb turns it upright
    Image.fromarray(cat).resize((400, 300)).save(root / "g_rotated.jpg", exif=exif)
    (root / "x_empty.jpg").write_bytes(b"")
    (root / "y_garbage.jpg").write_bytes(b"this is not an image" * 50)
    full = (root / "a_cat.jpg").read_bytes()
    (root / "z_truncated.jpg").write_bytes(full[: len(full) // 2])
    return [root / n for n in (*GOOD, *BAD)]


@pytest.fixture(scope="module")
def fx() -> FeatureExtractor:
    return FeatureExtractor("efficientnet_lite0", device="cpu", batch_size=4, num_workers=1)


def test_choose_device(monkeypatch):
    monkeypatch.delenv("XDEG_DEVICE", raising=False)
    assert choose_device("cpu") == CPU and choose_device("cpu").type == "cpu"
    assert choose_device("cpu:0") == torch.device("cpu:0")
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert choose_device().type == expected
    assert choose_device("auto").type == expected
    # where a GPU might be, torch decides; where none can be, the answer is the same
    monkeypatch.setattr(device_policy, "gpu_possible", lambda: True)
    assert choose_device().type == expected and isinstance(choose_device(), torch.device)
    # the environment is read by core.settings only: here it changes nothing
    monkeypatch.setenv("XDEG_DEVICE", "meta")
    assert choose_device().type == expected
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available") as err:
            choose_device("cuda")
        assert "XDEG_DEVICE" in str(err.value)  # the message names the user's setting


def test_extract_shapes_and_failures(fx, files):
    seen: list[tuple[int, int]] = []
    feats, failures = fx.extract(files, progress=lambda d, t: seen.append((d, t)))
    n = len(files)
    assert feats.shape == (n, 1280) and feats.dtype == np.float32
    bad_idx = {files.index(next(p for p in files if p.name == name)): reason
               for name, reason in BAD.items()}
    assert set(failures) == set(bad_idx)
    for i, reason in bad_idx.items():
        assert failures[i].startswith(reason + ":"), failures[i]
    good = [i for i in range(n) if i not in bad_idx]
    assert np.isfinite(feats[good]).all() and np.isnan(feats[list(bad_idx)]).all()
    assert (np.abs(feats[good]).sum(1) > 0).all()
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    # different pictures give different features, the rotated copy of the cat stays a cat
    cos = feats[good] @ feats[good].T / np.outer(*(2 * [np.linalg.norm(feats[good], axis=1)]))
    assert cos[0, 6] > cos[0, 1] and cos[0, 6] > cos[0, 2]


def test_iter_batches_covers_every_index_once(fx, files):
    files = [files[-1], *files[:-1]]  # a broken file first in its batch
    ref, ref_fail = fx.extract(files)  # one worker process
    fx.num_workers = 0  # decoded by threads in this process, failures mid-batch compacted
    try:
        got: list[int] = []
        for idx, feats, fails in fx.iter_batches(files):
            assert feats.shape == (len(idx), fx.dim) and feats.dtype == np.float32
            assert fails == {i: ref_fail[i] for i in fails}
            np.testing.assert_allclose(feats, ref[idx], rtol=1e-3, atol=2e-4)
            got += list(idx) + list(fails)
    finally:
        fx.num_workers = 1
    assert sorted(got) == list(range(len(files)))
    assert list(fx.iter_batches([])) == []


def test_same_features_across_batch_sizes(fx, files):
    good = files[: len(GOOD)]
    ref, _ = fx.extract(good)
    for bs, workers in ((1, 0), (3, 2)):
        fx.batch_size, fx.num_workers = bs, workers
        try:
            other, fails = fx.extract(good)
        finally:
            fx.batch_size, fx.num_workers = 4, 1
        assert not fails
        np.testing.assert_allclose(other, ref, rtol=1e-3, atol=2e-4)


def test_cache_key_identifies_backbone_weights_and_preprocessing(fx):
    again = FeatureExtractor("efficientnet_lite0", device="cpu", num_workers=0)
    assert again.cache_key == fx.cache_key
    assert fx.spec.weights_id in fx.cache_key and fx.spec.preprocess_version in fx.cache_key
    assert fx.cache_key.startswith("efficientnet_lite0-")
    fx.gpu_decode = True  # nvJPEG pixels are not libjpeg's: never mixed in one cache
    try:
        assert fx.cache_key == again.cache_key + "-nvjpeg"
    finally:
        fx.gpu_decode = False


def test_torch_path_matches_cpu_path(fx, files):
    """The nvJPEG path's torch preprocessing reproduces the PIL path (here decoded on CPU)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    size = fx.spec.image_size
    root = files[0].parent
    shapes = [(512, 512), (640, 480), (1920, 1080), (500, 900), (4000, 3000), (2000, 60)]
    src = Image.fromarray(skdata.astronaut())
    for w, h in shapes:
        path = root / f"plan_{w}x{h}.jpg"
        src.resize((w, h)).save(path, quality=92)
        data = path.read_bytes()
        assert nvjpeg_candidate(data)
        decoded = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                              mode=ImageReadMode.RGB)
        gpu_like = preprocess_decoded([decoded], size)[0].permute(1, 2, 0).numpy()
        cpu = preprocess_file(path, size)
        assert cpu.shape == gpu_like.shape == (size, size, 3)
        diff = np.abs(cpu.astype(int) - gpu_like.astype(int))
        assert diff.mean() < 1.0, ((w, h), diff.mean())
    # the rotated and the progressive JPEG stay on the CPU path
    assert not nvjpeg_candidate((root / "g_rotated.jpg").read_bytes())
    src.save(root / "prog.jpg", progressive=True)
    assert not nvjpeg_candidate((root / "prog.jpg").read_bytes())


def test_raw_jpeg_path_with_fallback(fx, files, monkeypatch):
    """The gpu_decode code path, run with torchvision's CPU decoder: same features, the same
    failures (the truncated JPEG reaches the decoder and is reported), and a JPEG the decoder
    refuses is decoded by the CPU path instead."""
    import torchvision.io

    real = torchvision.io.decode_jpeg
    refused = len(files[1].read_bytes())  # b_wide.jpg
    calls = {"refused": 0}

    def flaky(data, *args, **kwargs):
        blobs = data if isinstance(data, list) else [data]
        if any(len(b) == refused for b in blobs):
            calls["refused"] += 1
            raise RuntimeError("nvjpeg says no")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", flaky)
    monkeypatch.setattr(loading, "BYTES_PER_JPEG", 30_000)  # some JPEGs overflow the ring
    ref, ref_fail = fx.extract(files)
    fx.gpu_decode = True
    try:
        got, fails = fx.extract(files)
    finally:
        fx.gpu_decode = False
    assert calls["refused"] >= 2  # the batch, then the file alone
    assert fails == ref_fail
    ok = [i for i in range(len(files)) if i not in ref_fail]
    a, b = ref[ok], got[ok]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.999, cos
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-3, atol=2e-4)  # the CPU fallback
