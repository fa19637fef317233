"""An uneven collection for the path benchmarks: Tux Paint stamps plus a dense series.

    python -m benchmarks.uneven_collection OUT [--base DIR | --limit N]
        [--picture REL/PATH.png] [--seed 0]

``--base`` is a folder of real images, e.g. the Tux Paint stamps (Debian's
``tuxpaint-stamps-default``, ``usr/share/tuxpaint/stamps``; ``--picture
household/rubberduck.png`` there); without it, the demo collection (OpenMoji; ``--limit``
images of it; ``--picture`` default: the duck, or the base's middle image). Writes into OUT
(deterministic for a seed; existing files are replaced) and prints, last, one JSON object
(the base used and the counts):

* every image of the base at its relative path (topic folders kept);
* ``series/``: 300 small variations of one picture (``--picture``) on a fixed canvas:
  rotations (15 angles, -14..14 degrees), scalings (4 sizes, 85-100%), recolourings (3 hue
  shifts: 0, 25, 50 degrees) = 180 colour images, plus the greyscale version and a
  thick-outline ("stroke") version of each of the 60 unrecoloured ones: a near-continuous
  family, as real collections hold series (one object from many angles, the colour and the
  black-and-white version of a drawing);
* near-duplicates: 2 copies of each of 10 stamps, next to their originals (re-encoded
  through JPEG quality 92, and resized by 3% and back with brightness +3%);
* ``mixed/``: 6 images close to everything (3 collages of 9 stamps, a blend of 24 stamps,
  a blank canvas, a canvas of faint noise);
* ``uneven.json``: which files are series, near-duplicates (with their original) and mixed.
"""

from __future__ import annotations

import argparse
import colorsys
import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.demo_collection import real_collections
from benchmarks.quality_data import list_images

CANVAS = 160
ANGLES = [-14 + 2 * i for i in range(15)]
SCALES = [0.85, 0.90, 0.95, 1.00]
HUES = [0, 25, 50]  # degrees of hue rotation
NEAR_DUP_SOURCES = 10
MIXED = 6
MIXED_FROM = 24  # stamps blended into one of the mixed images (distinct)
DEMO_PICTURE = "1F986_duck.png"  # the demo collection's picture for the series


def _rgba(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGBA")


def hue_shift(img: Image.Image, degrees: float) -> Image.Image:
    """The picture with every colour's hue turned by ``degrees`` (alpha kept)."""
    if not degrees:
        return img.copy()
    a = np.asarray(img, dtype=np.float32) / 255.0
    rgb = a[..., :3].reshape(-1, 3)
    out = np.array([colorsys.hsv_to_rgb((h + degrees / 360.0) % 1.0, s, v)
                    for h, s, v in (colorsys.rgb_to_hsv(*px) for px in rgb)])
    a[..., :3] = out.reshape(a.shape[:2] + (3,))
    return Image.fromarray((a * 255.0 + 0.5).astype(np.uint8), "RGBA")


def greyscale(img: Image.Image) -> Image.Image:
    """Black-and-white version (alpha kept)."""
    grey = img.convert("L").convert("RGBA")
    grey.putalpha(img.getchannel("A"))
    return grey


def stroked(img: Image.Image, width: int = 5) -> Image.Image:
    """The picture with a thick dark outline around its shape."""
    padded = Image.new("RGBA", (img.width + 2 * width, img.height + 2 * width), (0, 0, 0, 0))
    padded.alpha_composite(img, (width, width))
    img = padded
    alpha = img.getchannel("A")
    outline = alpha.filter(ImageFilter.MaxFilter(2 * width + 1))
    out = Image.new("RGBA", img.size, (30, 30, 30, 0))
    out.putalpha(outline)
    out.alpha_composite(img)
    return out


def on_canvas(img: Image.Image, angle: float, scale: float) -> Image.Image:
    """``img`` rotated and scaled, centred on a transparent square canvas."""
    side = int(CANVAS * 0.8 * scale)
    w, h = img.size
    f = side / max(w, h)
    small = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS)
    small = small.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    canvas = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    canvas.alpha_composite(small, ((CANVAS - small.width) // 2, (CANVAS - small.height) // 2))
    return canvas


def series(picture: Path) -> dict[str, Image.Image]:
    """300 variations of one picture, by file name."""
    base = _rgba(picture)
    big = base.resize((base.width * 3, base.height * 3), Image.Resampling.LANCZOS)
    colours = {hue: hue_shift(big, hue) for hue in HUES}
    strokes = stroked(big, width=9)
    out: dict[str, Image.Image] = {}
    for ai, angle in enumerate(ANGLES):
        for si, scale in enumerate(SCALES):
            stem = f"a{ai:02d}_s{si}"
            for hue in HUES:
                out[f"{stem}_h{hue:02d}.png"] = on_canvas(colours[hue], angle, scale)
            plain = out[f"{stem}_h00.png"]
            out[f"{stem}_grey.png"] = greyscale(plain)
            out[f"{stem}_stroke.png"] = on_canvas(strokes, angle, scale)
    return out


def near_duplicates(img: Image.Image) -> list[Image.Image]:
    """Two copies a viewer cannot tell from ``img``: JPEG-re-encoded; resized 3% and back with
    brightness +3%."""
    alpha = img.getchannel("A")
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=92)
    jpeg = Image.open(io.BytesIO(buf.getvalue())).convert("RGBA")
    jpeg.putalpha(alpha)
    w, h = img.size
    small = img.resize((max(1, round(w * 0.97)), max(1, round(h * 0.97))),
                       Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    a = np.asarray(small, dtype=np.float32)
    a[..., :3] = np.clip(a[..., :3] * 1.03, 0, 255)
    return [jpeg, Image.fromarray(a.astype(np.uint8), "RGBA")]


def _thumb(img: Image.Image, side: int) -> Image.Image:
    t = img.copy()
    t.thumbnail((side, side), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    canvas.alpha_composite(t, ((side - t.width) // 2, (side - t.height) // 2))
    return canvas


def mixed(stamps: list[Path], rng: np.random.Generator) -> dict[str, Image.Image]:
    """Images close to everything: collages, a blend, a blank canvas, faint noise."""
    out: dict[str, Image.Image] = {}
    cell = CANVAS // 3
    for c in range(3):
        canvas = Image.new("RGBA", (CANVAS, CANVAS), (255, 255, 255, 255))
        for k, i in enumerate(rng.choice(len(stamps), 9, replace=False)):
            at = ((k % 3) * cell, (k // 3) * cell)
            canvas.alpha_composite(_thumb(_rgba(stamps[i]), cell), at)
        out[f"collage_{c}.png"] = canvas
    acc = np.zeros((CANVAS, CANVAS, 3))
    picks = rng.choice(len(stamps), MIXED_FROM, replace=False)
    for i in picks:
        white = Image.new("RGBA", (CANVAS, CANVAS), (255, 255, 255, 255))
        white.alpha_composite(_thumb(_rgba(stamps[i]), CANVAS))
        acc += np.asarray(white.convert("RGB"), dtype=np.float64)
    out["blend.png"] = Image.fromarray((acc / len(picks)).astype(np.uint8), "RGB")
    out["blank.png"] = Image.new("RGB", (CANVAS, CANVAS), (255, 255, 255))
    noise = 235 + rng.integers(0, 20, size=(CANVAS, CANVAS, 3))
    out["noise.png"] = Image.fromarray(noise.astype(np.uint8), "RGB")
    return out


def generate(out: Path, base: Path, picture: str, seed: int = 0) -> dict:
    """Write the collection into ``out``; return the description stored in uneven.json."""
    rng = np.random.default_rng(seed)
    stamps = list_images(base)
    out.mkdir(parents=True, exist_ok=True)
    for p in stamps:
        dst = out / p.relative_to(base)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst)
    info: dict = {"base": str(base), "picture": picture, "seed": seed,
                  "series": [], "near_duplicates": {}, "mixed": []}
    (out / "series").mkdir(exist_ok=True)
    for name, img in series(base / picture).items():
        img.save(out / "series" / name)
        info["series"].append(f"series/{name}")
    for i in sorted(rng.choice(len(stamps), NEAR_DUP_SOURCES, replace=False).tolist()):
        src = stamps[i]
        rel = src.relative_to(base)
        copies = []
        for k, img in enumerate(near_duplicates(_rgba(src))):
            dst = out / rel.parent / f"{rel.stem}__near{k}.png"
            img.save(dst)
            copies.append(str(dst.relative_to(out)))
        info["near_duplicates"][str(rel)] = copies
    (out / "mixed").mkdir(exist_ok=True)
    for name, img in mixed(stamps, rng).items():
        img.save(out / "mixed" / name)
        info["mixed"].append(f"mixed/{name}")
    (out / "uneven.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--base", type=Path, default=None, help="default: the demo collection")
    ap.add_argument("--limit", type=int, default=None, help="images of the demo collection")
    ap.add_argument("--picture", default=None, help="the series' picture, relative to the base")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    (base,), which = real_collections([args.base] if args.base else None, args.limit)
    stamps = list_images(base)
    if len(stamps) < MIXED_FROM:
        raise SystemExit(f"{base}: {len(stamps)} images; the collection needs {MIXED_FROM}")
    picture = args.picture or next(
        (p.relative_to(base).as_posix() for p in stamps if p.name == DEMO_PICTURE),
        stamps[len(stamps) // 2].relative_to(base).as_posix())
    print(f"base: {which}; series of {picture}")
    info = generate(args.out, base, picture, args.seed)
    counts = {"images": len(list_images(args.out)), "series": len(info["series"]),
              "near_duplicates": sum(map(len, info["near_duplicates"].values())),
              "mixed": len(info["mixed"])}
    print(f"{args.out}: {counts['images']} images ({counts['series']} series, "
          f"{counts['near_duplicates']} near-duplicates, {counts['mixed']} mixed)")
    print(json.dumps({"base": which, "picture": picture, "out": str(args.out), **counts}))


if __name__ == "__main__":
    main()
