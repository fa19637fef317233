"""The near-duplicate distance of a judging space, measured on the collection itself.

A step is a *near-duplicate step* when it is shorter than the distance between an image and
a copy of it that a viewer calls the same picture. Those copies are made from the data: a
seeded sample of the collection's images, each edited in the ways that leave a picture the
same to the eye (:data:`EDITS`: JPEG re-encoding at quality 85, zoom out by 5%, shift by 3%
of the side, rotation by 3 degrees, brightness +5%). In each judging space the near-duplicate
distance is the median distance between an image and its edited copies (half of the
barely-visible edits move a picture further than that), so it adapts to the space and to the
kind of images. Edited copies are PNG files under ``<store>/edits/`` (their CNN features are
cached like the collection's, by content hash).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from xdeg_pipeline.core.images.decode import BACKGROUND, load_rgb


def _jpeg(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _zoom(img: Image.Image, f: float = 0.95) -> Image.Image:
    small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))),
                       Image.Resampling.BICUBIC)
    out = Image.new("RGB", img.size, BACKGROUND)
    out.paste(small, ((img.width - small.width) // 2, (img.height - small.height) // 2))
    return out


def _shift(img: Image.Image, f: float = 0.03) -> Image.Image:
    out = Image.new("RGB", img.size, BACKGROUND)
    out.paste(img, (round(img.width * f), round(img.height * f)))
    return out


def _rotate(img: Image.Image, degrees: float = 3.0) -> Image.Image:
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=BACKGROUND)


def _bright(img: Image.Image, f: float = 1.05) -> Image.Image:
    a = np.asarray(img, dtype=np.float32) * f
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")


EDITS = {"jpeg85": _jpeg, "zoom95": _zoom, "shift3": _shift, "rotate3": _rotate,
         "bright5": _bright}


def edited_copies(paths: list[Path], hashes: list[str], out: Path, sample: int,
                  seed: int) -> list[tuple[int, Path]]:
    """Write the edited copies of a seeded sample of the images: ``(image index, file)``."""
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(paths), size=min(sample, len(paths)), replace=False).tolist())
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for i in picks:
        img = None
        for name, edit in EDITS.items():
            dst = out / f"{hashes[i][:16]}-{name}.png"
            if not dst.is_file():
                img = img or load_rgb(paths[i], max_side=512)
                tmp = dst.with_suffix(".tmp.png")
                edit(img).save(tmp)
                tmp.replace(dst)
            copies.append((i, dst))
    return copies


def near_duplicate_distance(orig: np.ndarray, copies: np.ndarray) -> tuple[float, dict]:
    """Median chord distance between unit rows ``orig[j]`` and their copies ``copies[j]``,
    with the distribution's quartiles for the report."""
    d = np.linalg.norm(orig - copies, axis=1)
    q = np.percentile(d, [10, 25, 50, 75, 90])
    return float(q[2]), {f"p{p}": round(float(v), 4) for p, v in zip((10, 25, 50, 75, 90), q,
                                                                       strict=True)}
