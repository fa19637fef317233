"""Small generated pictures for the tests of thumbnails, atlases, maps and the explorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def coloured_image(path: Path, seed: int, size: tuple[int, int] = (96, 96)) -> Path:
    """A shape on a tinted background, varied by ``seed`` (four colour families)."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(c) for c in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(img)
    colour = [(220, 40, 40), (40, 160, 40), (40, 60, 220), (230, 200, 30)][seed % 4]
    w, h = size
    r = int(min(w, h) * (0.2 + 0.25 * rng.random()))
    cx, cy = int(rng.integers(r, w - r + 1)), int(rng.integers(r, h - r + 1))
    box = (cx - r, cy - r, cx + r, cy + r)
    (draw.ellipse if seed % 2 else draw.rectangle)(box, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
