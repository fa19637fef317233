"""Preprocessing geometry: the fits (pad, crop, stretch) on square, wide and tall pictures,
JPEG draft decoding, one resize, and the torch (nvJPEG) emulation of the CPU path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from xdeg_pipeline.core.features import preprocess as pp
from xdeg_pipeline.core.features.jpeg_header import nvjpeg_candidate
from xdeg_pipeline.core.images.scan import load_rgb

S = 224


def _photo(w: int, h: int) -> Image.Image:
    return Image.fromarray(skdata.astronaut()).resize((w, h), Image.Resampling.BILINEAR)


@pytest.mark.parametrize("w,h", [(448, 448), (900, 300), (300, 900), (120, 90), (5, 2000)])
def test_geometry_of_each_fit(w, h):
    pad = pp.geometry(w, h, S, "pad")
    long = max(w, h)
    assert pad.box == (0, 0, w, h)  # the whole picture
    assert pad.out == (max(1, round(w * S / long)), max(1, round(h * S / long)))
    assert max(pad.out) == S
    x, y = pad.offset  # centred
    assert x + pad.out[0] <= S and y + pad.out[1] <= S
    assert abs((S - pad.out[0]) - 2 * x) <= 1 and abs((S - pad.out[1]) - 2 * y) <= 1
    crop = pp.geometry(w, h, S, "crop")
    side = min(w, h)
    left, top, right, bottom = crop.box
    assert right - left == bottom - top == side and crop.out == (S, S)
    assert abs((w - side) - 2 * left) <= 1 and abs((h - side) - 2 * top) <= 1
    assert pp.geometry(w, h, S, "stretch") == pp.Geometry((0, 0, w, h), (S, S), (0, 0))
    with pytest.raises(ValueError, match="unknown fit"):
        pp.geometry(w, h, S, "zoom")


def test_pad_keeps_the_whole_wide_and_tall_picture(tmp_path):
    for w, h in ((900, 300), (300, 900)):
        src = _photo(w, h)
        src.save(tmp_path / "p.png")
        got = pp.preprocess_file(tmp_path / "p.png", S, "pad")
        assert got.shape == (S, S, 3) and got.dtype == np.uint8
        g = pp.geometry(w, h, S, "pad")
        (x, y), (tw, th) = g.offset, g.out
        # the bands outside the picture are the background colour, white
        band = np.ones((S, S), bool)
        band[y:y + th, x:x + tw] = False
        assert (got[band] == pp.PAD_VALUE).all() and band.sum() > S * S // 2
        # inside: the whole picture, resized once (antialiased bilinear)
        want = np.asarray(src.resize((tw, th), Image.Resampling.BILINEAR, reducing_gap=None))
        np.testing.assert_array_equal(got[y:y + th, x:x + tw], want)


def test_crop_and_stretch_are_one_resize(tmp_path):
    src = _photo(900, 300)
    src.save(tmp_path / "w.png")
    crop = pp.preprocess_file(tmp_path / "w.png", S, "crop")
    box = pp.geometry(900, 300, S, "crop").box
    assert box == (300, 0, 600, 300)
    want = src.resize((S, S), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
    np.testing.assert_array_equal(crop, np.asarray(want))
    np.testing.assert_array_equal(pp.crop_resize(src, S), crop)
    stretch = pp.preprocess_file(tmp_path / "w.png", S, "stretch")
    want = src.resize((S, S), Image.Resampling.BILINEAR, reducing_gap=None)
    np.testing.assert_array_equal(stretch, np.asarray(want))
    # pad, crop and stretch really differ on a wide picture; on a square one they agree
    pad = pp.preprocess_file(tmp_path / "w.png", S, "pad")
    assert np.abs(pad.astype(int) - crop).mean() > 20
    _photo(S, S).save(tmp_path / "sq.png")
    same = [pp.preprocess_file(tmp_path / "sq.png", S, f) for f in pp.FITS]
    assert all((a == same[0]).all() for a in same)


@pytest.mark.parametrize("fit", pp.FITS)
@pytest.mark.parametrize("w,h", [(512, 512), (2000, 1000), (1000, 3000), (4000, 300)])
def test_jpeg_draft_decodes_at_the_least_scale_that_fits(tmp_path, fit, w, h):
    path = tmp_path / "big.jpg"
    _photo(w, h).save(path, quality=90)
    k = pp.jpeg_scale(w, h, S, fit)
    decoded = load_rgb(path, draft=lambda a, b: pp.draft_size(a, b, S, fit))
    assert decoded.size == (math.ceil(w / k), math.ceil(h / k))  # Pillow's draft rule
    need = pp.draft_size(w, h, S, fit)
    assert decoded.width >= need[0] and decoded.height >= need[1]  # never upscaled after
    g = pp.geometry(*decoded.size, S, fit)
    assert g.out[0] <= g.box[2] - g.box[0] and g.out[1] <= g.box[3] - g.box[1]
    if k < 8:  # the next scale would have been too small
        assert w < 2 * k * need[0] or h < 2 * k * need[1]


def test_tiny_and_extreme_pictures(tmp_path):
    Image.new("RGB", (1, 1), (10, 200, 30)).save(tmp_path / "one.png")
    for fit in pp.FITS:
        one = pp.preprocess_file(tmp_path / "one.png", S, fit)
        assert one.shape == (S, S, 3)
        assert (one[S // 2, S // 2] == (10, 200, 30)).all()
    Image.new("RGB", (4000, 2), (0, 0, 0)).save(tmp_path / "line.png")
    line = pp.preprocess_file(tmp_path / "line.png", S, "pad")
    assert (line[(S - 1) // 2] < 128).all() and (line[0] == 255).all()  # a thin line, whole


@pytest.mark.parametrize("fit", pp.FITS)
def test_torch_path_matches_cpu_path_for_every_fit(tmp_path, fit):
    """The nvJPEG emulation (here fed by the CPU decoder) follows the CPU path's plan."""
    from torchvision.io import ImageReadMode, decode_jpeg

    src = Image.fromarray(skdata.astronaut())
    shapes = [(512, 512), (640, 480), (1920, 1080), (500, 900), (4000, 3000), (2000, 60),
              (90, 120)]
    for w, h in shapes:
        path = tmp_path / f"plan_{w}x{h}.jpg"
        src.resize((w, h)).save(path, quality=92)
        data = path.read_bytes()
        assert nvjpeg_candidate(data)
        decoded = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                              mode=ImageReadMode.RGB)
        gpu_like = pp.preprocess_decoded([decoded, decoded], S, fit)
        assert gpu_like.shape == (2, 3, S, S) and (gpu_like[0] == gpu_like[1]).all()
        cpu = pp.preprocess_file(path, S, fit)
        diff = np.abs(cpu.astype(int) - gpu_like[0].permute(1, 2, 0).numpy().astype(int))
        assert diff.mean() < 1.0, (fit, (w, h), diff.mean())
        if fit == "pad":  # the same bands of background
            g = pp.geometry(*load_rgb(path, draft=lambda a, b: pp.draft_size(a, b, S, fit)
                                      ).size, S, fit)
            assert (gpu_like[0, :, :g.offset[1]] == pp.PAD_VALUE).all()
            assert (gpu_like[0, :, :, :g.offset[0]] == pp.PAD_VALUE).all()


def test_default_fit_and_version_in_the_cache_key():
    from xdeg_pipeline.core.features.backbones import PREPROCESS_VERSION
    from xdeg_pipeline.core.features.extractor import FeatureExtractor

    assert pp.DEFAULT_FIT in pp.FITS and PREPROCESS_VERSION.endswith(".v2")
    default = FeatureExtractor("efficientnet_lite0", device="cpu")
    assert PREPROCESS_VERSION in default.cache_key
    others = {f: FeatureExtractor("efficientnet_lite0", device="cpu", fit=f).cache_key
              for f in pp.FITS if f != pp.DEFAULT_FIT}
    assert len({default.cache_key, *others.values()}) == len(pp.FITS)  # never mixed
    assert all(f"-{f}-" in key for f, key in others.items())


def test_exif_rotated_jpeg_is_upright_before_the_fit(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    _photo(600, 300).save(tmp_path / "r.jpg", exif=exif, quality=92)
    got = pp.preprocess_file(Path(tmp_path / "r.jpg"), S, "pad")
    g = pp.geometry(150, 300, S, "pad")  # upright: tall
    assert g.out[1] == S and g.offset[0] > 0
    assert (got[:, : g.offset[0]] == 255).all() and (got[:, g.offset[0] + 2] < 250).any()
