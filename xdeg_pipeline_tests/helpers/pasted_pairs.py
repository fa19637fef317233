"""Constructed pairs for explanations: the same object pasted at known places on two
different backgrounds (gradients, checkerboards, smooth noise)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data as sk

S = 224


def _objects() -> list[np.ndarray]:
    return [sk.chelsea(), sk.astronaut()[30:230, 150:350], sk.coffee()[50:350, 150:450],
            sk.rocket()[50:350, 100:400], sk.retina()[200:1200, 200:1200],
            sk.immunohistochemistry()]


def background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:S, 0:S] / S
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if seed % 3 == 0:
        t = (xx * rng.random() + yy * rng.random())[..., None]
        a = c1 * (1 - t) + c2 * t
    elif seed % 3 == 1:
        a = np.where(((xx * 8).astype(int) + (yy * 8).astype(int))[..., None] % 2 == 0, c1, c2)
    else:
        small = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
        a = np.asarray(Image.fromarray(small).resize((S, S), Image.Resampling.BICUBIC))
    return np.clip(a, 0, 255).astype(np.uint8)


def pasted(obj: np.ndarray, seed: int, side: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``obj`` resized to ``side`` and pasted at a place drawn by ``seed``; its box."""
    rng = np.random.default_rng(seed + 1000)
    canvas = background(seed).copy()
    o = np.asarray(Image.fromarray(obj).resize((side, side), Image.Resampling.BILINEAR))
    x, y = (int(v) for v in rng.integers(0, S - side, 2))
    canvas[y:y + side, x:x + side] = o
    return canvas, (x, y, x + side, y + side)


def pairs(n: int, side: int) -> list[tuple[np.ndarray, tuple, np.ndarray, tuple]]:
    """``n`` pairs ``(image a, box a, image b, box b)``."""
    objs = _objects()
    out = []
    for i in range(n):
        a, ba = pasted(objs[i % len(objs)], 2 * i, side)
        b, bb = pasted(objs[i % len(objs)], 2 * i + 1, side)
        out.append((a, ba, b, bb))
    return out
