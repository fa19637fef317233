"""Decoding to RGB: alpha composited on the page's white, an opaque alpha simply dropped."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from xdeg_pipeline.core.images.decode import BACKGROUND, decode_image

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _png(im: Image.Image) -> io.BytesIO:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf


def _decoded(im: Image.Image) -> np.ndarray:
    rgb, fmt, w, h = decode_image(_png(im), None, 10**8)
    assert (fmt, w, h, rgb.mode) == ("PNG", 32, 24, "RGB")
    return np.asarray(rgb)


def _on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float64) / 255
    return rgb * a + np.asarray(BACKGROUND, np.float64) * (1 - a)


@pytest.mark.parametrize("alpha", ["opaque", "translucent", "one clear pixel"])
def test_rgba_is_composited_on_white(alpha: str) -> None:
    a = np.full(RGB.shape[:2], 255, np.uint8)
    if alpha == "translucent":
        a = RNG.integers(0, 256, a.shape, dtype=np.uint8)
    elif alpha == "one clear pixel":  # not opaque everywhere: composited, not dropped
        a[5, 7] = 0
    got = _decoded(Image.fromarray(np.dstack([RGB, a]), "RGBA"))
    want = _on_white(RGB, a)
    assert np.abs(got - want).max() <= 1  # Pillow rounds its blend
    if alpha == "opaque":
        assert np.array_equal(got, RGB)  # dropped exactly
    if alpha == "one clear pixel":
        assert tuple(got[5, 7]) == tuple(BACKGROUND)


def test_grey_with_alpha_and_a_palette_transparency() -> None:
    grey = RGB[..., 0]
    la = Image.fromarray(np.dstack([grey, np.full(grey.shape, 255, np.uint8)]), "LA")
    assert np.array_equal(_decoded(la), np.repeat(grey[..., None], 3, axis=2))
    pal = Image.fromarray(RGB).quantize(8)
    clear = int(np.asarray(pal)[0, 0])
    pal.info["transparency"] = clear
    got = _decoded(pal)
    where = np.asarray(pal) == clear
    assert (got[where] == BACKGROUND).all()
    assert np.array_equal(got[~where], np.asarray(pal.convert("RGB"))[~where])
