"""Generated image collections: small varied pictures written to disk for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def make_image(path: Path, seed: int, size: int = 96) -> Path:
    """A small picture: a coloured shape on a tinted background, varied by ``seed``."""
    rng = np.random.default_rng(seed)
    family = seed % 4
    bg = tuple(int(c) for c in rng.integers(150, 256, 3))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    colour = [(220, 40, 40), (40, 160, 40), (40, 60, 220), (230, 200, 30)][family]
    colour = tuple(int(np.clip(c + rng.integers(-30, 30), 0, 255)) for c in colour)
    r = int(size * (0.2 + 0.25 * rng.random()))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    if family in (0, 2):
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_collection(root: Path, n: int, start: int = 0) -> list[Path]:
    """``n`` generated images in two sub-folders of ``root``."""
    return [
        make_image(root / ("shapes" if i % 2 else "more") / f"img_{i:03d}.png", seed=i)
        for i in range(start, start + n)
    ]
