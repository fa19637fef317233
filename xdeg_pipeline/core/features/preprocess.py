"""Preprocessing: the pixels a backbone sees, from a file (PIL) or a decoded tensor (torch).

The steps (``backbones.PREPROCESS_VERSION`` and the *fit*; ``S`` = the backbone's image size,
an image of ``W x H``):

1. decode: a JPEG at a reduced scale (DCT scaling by the largest ``k`` in 1, 2, 4, 8 that
   keeps the decoded image at least as large as step 2 needs, Pillow's ``draft`` rule); any
   other format at full size; transparency composited on white (:mod:`..image_decode`);
2. one antialiased bilinear resize of the picture onto ``S x S``, by the fit
   (:data:`FITS`): ``pad`` (the whole picture, long side to ``S``, centred on the background
   colour: what the chain shows is what the model saw), ``crop`` (centre square of the short
   side) or ``stretch`` (the whole picture, aspect ratio not kept); round to uint8;
3. on the device (:mod:`.runner`): scale to [0, 1], normalise with the backbone's mean/std.

:func:`preprocess_file` is the CPU path. :func:`preprocess_decoded` emulates steps 1-2 with
torch ops on full-size decoded images (the nvJPEG path): ``k x k`` box average for the DCT
scaling, then the same box and resize; pixels match the CPU path to within about one grey
level on average. A change to either path's pixels bumps the version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image

from xdeg_pipeline.core.features.spec import DEFAULT_FIT, FITS, check_fit, parse_model_fit

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_FIT", "FITS", "Geometry", "check_fit", "crop_resize", "decode_file",
           "decode_side", "draft_size", "fit_resize", "geometry", "jpeg_scale",
           "preprocess_decoded", "preprocess_file"]

PAD_VALUE = 255  # the background colour of image_decode.BACKGROUND (white)


class Geometry(NamedTuple):
    """Where the picture goes: source ``box`` (left, top, right, bottom) of a ``w x h`` image,
    resized to ``out`` (width, height), placed at ``offset`` (x, y) of the ``S x S`` square."""

    box: tuple[int, int, int, int]
    out: tuple[int, int]
    offset: tuple[int, int]


def geometry(w: int, h: int, size: int, fit: str) -> Geometry:
    """Step 2 for a decoded ``w x h`` image (see the module docstring)."""
    if fit == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return Geometry((left, top, left + side, top + side), (size, size), (0, 0))
    if fit == "stretch":
        return Geometry((0, 0, w, h), (size, size), (0, 0))
    check_fit(fit)
    long = max(w, h)
    tw, th = max(1, round(w * size / long)), max(1, round(h * size / long))
    return Geometry((0, 0, w, h), (tw, th), ((size - tw) // 2, (size - th) // 2))


def draft_size(w: int, h: int, size: int, fit: str) -> tuple[int, int]:
    """The least ``(w, h)`` a JPEG of stored size ``w x h`` may be decoded at for step 2."""
    ref = max(w, h) if fit == "pad" else min(w, h)
    return max(1, -(-w * size // ref)), max(1, -(-h * size // ref))


def decode_side(w: int, h: int, size: int) -> int:
    """``ceil(size * long / short)``: the long side at which the short side is ``size``."""
    short, long = min(w, h), max(w, h)
    return -(-size * long // max(short, 1))


_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
             "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


def resize_crop(img: Image.Image, size: int, interpolation: str, crop_pct: float) -> np.ndarray:
    """A model's own step 2 (timm's/torchvision's eval transform, same rounding): the short
    side resized to ``floor(size / crop_pct)``, then the centre ``size`` square."""
    scale = int(math.floor(size / crop_pct))
    w, h = img.size
    nw, nh = (scale, int(scale * h / w)) if w <= h else (int(scale * w / h), scale)
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), _RESAMPLE[interpolation])
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    arr = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return arr


def fit_resize(img: Image.Image, size: int, fit: str = DEFAULT_FIT) -> np.ndarray:
    """Step 2: ``(size, size, 3)`` uint8 of a decoded RGB image, one antialiased resize."""
    rc = parse_model_fit(fit)
    if rc is not None:
        return resize_crop(img, size, *rc)
    g = geometry(img.width, img.height, size, fit)
    if g.out != (g.box[2] - g.box[0], g.box[3] - g.box[1]):
        img = img.resize(g.out, Image.Resampling.BILINEAR, box=g.box, reducing_gap=None)
    elif g.box != (0, 0, img.width, img.height):
        img = img.crop(g.box)
    arr = np.asarray(img, dtype=np.uint8)
    if g.out == (size, size):
        return arr
    out = np.full((size, size, 3), PAD_VALUE, np.uint8)
    x, y = g.offset
    out[y:y + g.out[1], x:x + g.out[0]] = arr
    return out


def crop_resize(img: Image.Image, size: int) -> np.ndarray:
    """Centre square crop of the short side, bilinear (antialiased) resize to ``size``."""
    return fit_resize(img, size, "crop")


def decode_file(path: Path, size: int, fit: str = DEFAULT_FIT
                ) -> tuple[Image.Image, tuple[int, int]]:
    """Step 1 of the CPU path: the decoded upright RGB image and its full ``(width, height)``;
    raises ``images.ImageRejected``."""
    from xdeg_pipeline.core.images.decode import load_rgb_sized

    if parse_model_fit(fit) is not None:  # a model's own transform decodes at full size
        return load_rgb_sized(path)
    return load_rgb_sized(path, draft=lambda w, h: draft_size(w, h, size, fit))


def preprocess_file(path: Path, size: int, fit: str = DEFAULT_FIT) -> np.ndarray:
    """The CPU path: ``(size, size, 3)`` uint8 of one file; raises ``images.ImageRejected``."""
    return fit_resize(decode_file(path, size, fit)[0], size, fit)


def failure_text(exc: BaseException) -> str:
    """How a file that could not be preprocessed is reported: ``"reason: detail"``."""
    from xdeg_pipeline.core.images.scan import ImageRejected

    if isinstance(exc, ImageRejected):
        return f"{exc.reason}: {exc.detail}"
    return f"corrupt: {type(exc).__name__}: {exc}"


@lru_cache(maxsize=4096)
def jpeg_scale(w: int, h: int, size: int, fit: str) -> int:
    """The DCT scale ``k`` Pillow's ``draft`` picks for a ``w x h`` JPEG (step 1)."""
    rw, rh = draft_size(w, h, size, fit)
    scale = min(w // rw, h // rh)
    return next((k for k in (8, 4, 2, 1) if scale >= k), 1)


def preprocess_decoded(images: Sequence[torch.Tensor], size: int,
                       fit: str = DEFAULT_FIT) -> torch.Tensor:
    """The torch path: full-size decoded ``(3, H, W)`` uint8 tensors -> ``(n, 3, S, S)`` uint8.

    Emulates :func:`preprocess_file` on any device; images of one shape are done as a batch.
    """
    import torch
    import torch.nn.functional as F

    n = len(images)
    device = images[0].device if n else torch.device("cpu")
    out = torch.full((n, 3, size, size), PAD_VALUE, dtype=torch.uint8, device=device)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
    for (h, w), members in groups.items():
        k = jpeg_scale(w, h, size, fit)
        x = torch.stack([images[i] for i in members]).float()
        if k > 1:  # JPEG DCT scaling ~ k x k box average
            x = F.avg_pool2d(x, k, ceil_mode=True, count_include_pad=False).round_()
        g = geometry(int(x.shape[3]), int(x.shape[2]), size, fit)
        left, top, right, bottom = g.box
        x = x[:, :, top:bottom, left:right]
        if g.out != (right - left, bottom - top):
            x = F.interpolate(x, size=(g.out[1], g.out[0]), mode="bilinear", antialias=True,
                              align_corners=False).round_().clamp_(0, 255)
        ox, oy = g.offset
        out[members, :, oy:oy + g.out[1], ox:ox + g.out[0]] = x.to(torch.uint8)
    return out
