"""Drawings for the outline tests: one figure in several colourings, and another figure."""

from __future__ import annotations

from PIL import Image, ImageDraw

SKIN = [(250, 220, 190), (225, 180, 140), (190, 140, 100), (140, 95, 60), (95, 65, 45)]


def face(fill: tuple[int, int, int], size: int = 128, smile: bool = True) -> Image.Image:
    """A face drawn with black outlines and filled with ``fill`` (a skin tone); ``smile=False``
    draws another face (open mouth, other eyes): a different drawing."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    s = size / 128
    d.ellipse([14 * s, 14 * s, 114 * s, 114 * s], fill=fill, outline=(0, 0, 0), width=int(4 * s))
    if smile:
        d.ellipse([40 * s, 44 * s, 52 * s, 56 * s], fill=(0, 0, 0))
        d.ellipse([76 * s, 44 * s, 88 * s, 56 * s], fill=(0, 0, 0))
        d.arc([38 * s, 52 * s, 90 * s, 96 * s], 20, 160, fill=(0, 0, 0), width=int(4 * s))
    else:
        d.rectangle([34 * s, 40 * s, 58 * s, 50 * s], fill=(0, 0, 0))
        d.rectangle([70 * s, 40 * s, 94 * s, 50 * s], fill=(0, 0, 0))
        d.ellipse([50 * s, 70 * s, 78 * s, 100 * s], fill=(120, 0, 0), outline=(0, 0, 0),
                  width=int(4 * s))
    return img
