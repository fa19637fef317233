"""A judging space independent of the CNN the graph is built from: shape, colour and layout.

Chains are built from EfficientNet-Lite0 features (ImageNet-trained, centre crop, PCA). To
judge them by something that shares nothing with that model, each image is described by
hand-made measurements of the *whole* picture (composited on white, cut to the bounding box
of its non-white pixels so that position and margins do not count, letterboxed; no centre
crop, no learned weights):

* shape: HOG of the grey 48 x 48 picture after a Gaussian blur of radius 1 (9 orientations,
  12 x 12 cells, 2 x 2 blocks, L2-Hys), 324-d;
* colour: a 4 x 4 x 4 RGB histogram of the non-white pixels (32 x 32) plus one bin for how
  much of the picture is non-white, square-rooted (Hellinger), 65-d;
* layout: an 8 x 8 RGB thumbnail, 192-d.

Each block is L2-normalised and weighted (shape 1, colour 0.5, layout 0.5: shape carries
2/3 of the squared distance), concatenated and L2-normalised again; distances are chord
distances (Euclidean between unit vectors, cosine distance = chord^2 / 2). It sees what a
viewer sees first (outline, colour, arrangement) and nothing of what the CNN learned, so a
chain that is smooth here is smooth to an observer other than the model that built it.
Descriptors are cached by content hash in ``<store>/visual-v2.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from skimage.feature import hog

from xdeg_pipeline.core.images.decode import BACKGROUND, load_rgb
from xdeg_pipeline.core.storage.atomic import write_with

VERSION = "visual-v2"
SIDE = 48
CELL = 12
WEIGHTS = {"shape": 1.0, "colour": 0.5, "layout": 0.5}


def letterbox(img: Image.Image, side: int) -> Image.Image:
    """The whole picture scaled into a ``side`` square, centred on the background colour."""
    img = img.convert("RGB")
    f = side / max(img.size)
    w, h = max(1, round(img.width * f)), max(1, round(img.height * f))
    small = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("RGB", (side, side), BACKGROUND)
    canvas.paste(small, ((side - w) // 2, (side - h) // 2))
    return canvas


def content_box(img: Image.Image) -> Image.Image:
    """The picture cut to the bounding box of its non-white pixels (all of it if blank)."""
    a = np.asarray(img.convert("RGB"), dtype=np.int16)
    ys, xs = np.nonzero((255 - a).max(axis=2) > 20)
    if not len(ys):
        return img
    return img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def describe_image(img: Image.Image) -> np.ndarray:
    """The descriptor of one RGB picture (float32, unit length)."""
    img = content_box(img)
    sq = letterbox(img, SIDE).filter(ImageFilter.GaussianBlur(1))
    grey = (np.asarray(sq, dtype=np.float32) / 255.0) @ np.array([0.299, 0.587, 0.114],
                                                                 dtype=np.float32)
    shape = hog(grey, orientations=9, pixels_per_cell=(CELL, CELL), cells_per_block=(2, 2),
                block_norm="L2-Hys", feature_vector=True)
    px = np.asarray(letterbox(img, 32), dtype=np.float32).reshape(-1, 3) / 255.0
    ink = (1.0 - px).max(axis=1) > 0.08  # not (nearly) white
    bins = np.minimum((px[ink] * 4).astype(int), 3)
    hist = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64).astype(float)
    hist = np.append(hist / max(1, ink.sum()), ink.mean())
    colour = np.sqrt(hist)
    thumb = np.asarray(letterbox(img, 8), dtype=np.float32).reshape(-1) / 255.0 - 0.5
    parts = [WEIGHTS["shape"] * _unit(shape), WEIGHTS["colour"] * _unit(colour),
             WEIGHTS["layout"] * _unit(thumb)]
    return _unit(np.concatenate(parts)).astype(np.float32)


def describe(path: Path) -> np.ndarray:
    """The descriptor of an image file (decoded like the pipeline: upright, on white)."""
    return describe_image(load_rgb(path, max_side=256))


def visual_features(paths: list[Path], hashes: list[str], store_root: Path) -> np.ndarray:
    """Descriptors of the images (n, dim), cached by content hash under ``store_root``."""
    cache = Path(store_root) / f"{VERSION}.npz"
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache) as z:
            known = dict(zip(z["hashes"].tolist(), z["features"], strict=True))
    missing = [i for i, h in enumerate(hashes) if h not in known]
    for i in missing:
        known[hashes[i]] = describe(paths[i])
    if missing:
        keys = sorted(known)
        arr = np.stack([known[k] for k in keys])
        cache.parent.mkdir(parents=True, exist_ok=True)

        def write(p: Path) -> None:
            with open(p, "wb") as fh:
                np.savez(fh, hashes=np.array(keys), features=arr)

        write_with(cache, write)
    return np.stack([known[h] for h in hashes]).astype(np.float32)
