"""Preprocessing: the pixels a backbone sees, from a file (PIL) or a decoded tensor (torch).

The steps (``backbones.PREPROCESS_VERSION``; ``S`` = the backbone's image size, an image of
``W x H`` with short side ``s`` and long side ``L``):

1. decode at a reduced scale: :func:`images.load_rgb` with ``max_side = m = ceil(S*L/s)``, i.e.
   JPEG DCT scaling by the largest ``k`` in 1, 2, 4, 8 with ``min(W//m, H//m) >= k`` (Pillow's
   ``draft`` rule), then Pillow's ``thumbnail`` to fit ``m x m`` (bicubic, ``reducing_gap`` 2),
   so the short side stays ``>= S``;
2. centre-crop a square of the short side, resize it to ``S x S`` (bilinear, antialiased; most
   often the identity), round to uint8;
3. on the device (:mod:`.runner`): scale to [0, 1], normalise with the backbone's mean/std.

:func:`preprocess_file` is the CPU path. :func:`preprocess_decoded` emulates steps 1-2 with
torch ops on full-size decoded images (the nvJPEG path): ``k x k`` box average for the DCT
scaling, antialiased bicubic for the thumbnail; pixels match the CPU path to within about one
grey level on average. A change to either path's pixels bumps the version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _pil_thumbnail_size(w: int, h: int, box: int) -> tuple[int, int] | None:
    """Pillow's ``thumbnail`` target for ``(box, box)``; ``None`` when the image already fits."""
    if box >= w and box >= h:
        return None
    aspect = w / h
    x = y = box
    if x / y >= aspect:
        x = max(min(math.floor(y * aspect), math.ceil(y * aspect),
                    key=lambda n: abs(aspect - n / y)), 1)
    else:
        y = max(min(math.floor(x / aspect), math.ceil(x / aspect),
                    key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)
    return x, y


def decode_side(w: int, h: int, size: int) -> int:
    """``m = ceil(size * long / short)``: the ``max_side`` that keeps the short side ``>= size``."""
    short, long = min(w, h), max(w, h)
    return -(-size * long // max(short, 1))


@lru_cache(maxsize=4096)
def _plan(w: int, h: int, size: int) -> dict[str, Any]:
    """Every step of the preprocessing of a stored ``w x h`` JPEG (see module docstring)."""
    m = decode_side(w, h, size)
    scale = min(w // m, h // m)
    k = next((f for f in (8, 4, 2, 1) if scale >= f), 1)
    dw, dh = -(-w // k), -(-h // k)
    thumb = _pil_thumbnail_size(dw, dh, m)
    tw, th = thumb if thumb else (dw, dh)
    reduce = (1, 1)
    if thumb:
        reduce = (max(int(dh / th / 2.0), 1), max(int(dw / tw / 2.0), 1))
    side = min(tw, th)
    return {
        "k": k, "thumb": thumb, "reduce": reduce, "side": side,
        "top": (th - side) // 2, "left": (tw - side) // 2,
    }


def crop_resize(img: Image.Image, size: int) -> np.ndarray:
    """Centre square crop of the short side, bilinear (antialiased) resize to ``size``."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (w, h) != (side, side):
        img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8)


def preprocess_file(path: Path, size: int) -> np.ndarray:
    """The CPU path: ``(size, size, 3)`` uint8 of one file; raises ``images.ImageRejected``."""
    from xdeg_pipeline.core.images import load_rgb

    img = load_rgb(path, max_side=lambda w, h: decode_side(w, h, size))
    return crop_resize(img, size)


def failure_text(exc: BaseException) -> str:
    """How a file that could not be preprocessed is reported: ``"reason: detail"``."""
    from xdeg_pipeline.core.images import ImageRejected

    if isinstance(exc, ImageRejected):
        return f"{exc.reason}: {exc.detail}"
    return f"corrupt: {type(exc).__name__}: {exc}"


def preprocess_decoded(images: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """The torch path: full-size decoded ``(3, H, W)`` uint8 tensors -> ``(n, 3, S, S)`` uint8.

    Emulates :func:`preprocess_file` on any device; images of one shape are done as a batch.
    """
    n = len(images)
    device = images[0].device if n else torch.device("cpu")
    out = torch.empty((n, 3, size, size), dtype=torch.uint8, device=device)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
    for (h, w), members in groups.items():
        p = _plan(w, h, size)
        x = torch.stack([images[i] for i in members]).float()
        if p["k"] > 1:  # JPEG DCT scaling ~ k x k box average
            x = F.avg_pool2d(x, p["k"], ceil_mode=True, count_include_pad=False).round_()
        if p["thumb"]:
            if p["reduce"] != (1, 1):
                x = F.avg_pool2d(x, p["reduce"], ceil_mode=True, count_include_pad=False)
            tw, th = p["thumb"]
            x = F.interpolate(x, size=(th, tw), mode="bicubic", antialias=True,
                              align_corners=False).round_().clamp_(0, 255)
        side, top, left = p["side"], p["top"], p["left"]
        x = x[:, :, top:top + side, left:left + side]
        if side != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False).round_().clamp_(0, 255)
        out[members] = x.to(torch.uint8)
    return out
