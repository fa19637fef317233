"""Series collections for the path benchmarks (issue 21): a base collection plus design series.

    python -m benchmarks.series_collection OUT [--base DIR | --limit N]
        [--variant star|flower|palette]

A *design series* is one picture varied step by step along one or two parameters. Its
neighbours are further apart than near-duplicates (same-picture edits), yet a run of them
shows a viewer the same picture again and again. Writes into OUT (deterministic):

* every image of ``--base`` (Tux Paint's stamps were used: ``../shared/datasets/
  fetch_tuxpaint_stamps.sh``) at its relative path, else of the demo collection (``--limit``);
* variant ``star`` (the one the defaults were chosen on):
  ``series/star/``: a star drawn with 40..100 spikes (step 2) and an inner circle of 4 sizes
  (124 images); ``series/pan/``: a slow camera pan over a photo stamp (anemone) on a sky
  gradient, 60 frames moving 1 % of the width each;
* variant ``flower`` (built after the defaults were chosen, to confirm them):
  ``series/flower/``: a flower of 5..20 petals in 4 hues (64 images); ``series/zoom/``: a slow
  zoom into a photo stamp (pizza), 60 frames, each 1.5 % closer;
* variant ``palette`` (built after the recoloured-step distance was chosen, to confirm it):
  ``series/palette/``: 40 of the base's pictures (every n-th) each in 6 colourings, as a game's
  palette swaps or an emoji's skin tones (hue turned by 0, 60, ..., 300 degrees where the
  picture is coloured, the darker half also darkened by 30 %; transparency kept): 240 images;
* ``series.json``: the ordered members of each series (runs along one parameter), for the
  calibration of near-identical steps (:mod:`benchmarks.quality_metrics`).
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.demo_collection import real_collections
from benchmarks.quality_data import list_images

CANVAS = 160
FRAMES = 60


def _rgb(hue: float, s: float = 0.8, v: float = 0.9) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def star(spikes: int, inner: float) -> Image.Image:
    """A star of ``spikes`` points, a filled inner circle of radius ``inner`` (of the star's)."""
    img = Image.new("RGB", (CANVAS * 2, CANVAS * 2), "white")
    d = ImageDraw.Draw(img)
    c, r_out, r_in = CANVAS, CANVAS * 0.9, CANVAS * 0.55
    pts = []
    for k in range(2 * spikes):
        r = r_out if k % 2 == 0 else r_in
        a = math.pi * k / spikes
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    d.polygon(pts, fill=(240, 190, 30), outline=(90, 60, 0))
    ri = CANVAS * 0.9 * inner
    d.ellipse((c - ri, c - ri, c + ri, c + ri), fill=(200, 40, 40), outline=(90, 20, 20))
    return img.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)


def flower(petals: int, hue: float) -> Image.Image:
    """A flower of ``petals`` ellipse petals around a disc, in one hue."""
    img = Image.new("RGB", (CANVAS * 2, CANVAS * 2), (250, 250, 245))
    d = ImageDraw.Draw(img)
    c = CANVAS
    for k in range(petals):
        a = 2 * math.pi * k / petals
        x, y = c + 0.5 * CANVAS * math.cos(a), c + 0.5 * CANVAS * math.sin(a)
        w = max(8.0, 0.9 * CANVAS * math.pi / petals)
        d.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=_rgb(hue),
                  outline=_rgb(hue, 1.0, 0.5))
    d.ellipse((c - 40, c - 40, c + 40, c + 40), fill=(250, 200, 0), outline=(120, 80, 0))
    d.line((c, c + 40, c, 2 * CANVAS), fill=(40, 140, 40), width=10)
    return img.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)


def _scene(photo: Path, width: int, height: int) -> Image.Image:
    """The photo stamp on a sky gradient (a wide "photograph" to move a camera over)."""
    top, bottom = np.array([120, 170, 230.0]), np.array([225, 235, 245.0])
    t = np.linspace(0, 1, height)[:, None, None]
    sky = (top * (1 - t) + bottom * t) * np.ones((1, width, 1))
    scene = Image.fromarray(sky.astype(np.uint8), "RGB").convert("RGBA")
    with Image.open(photo) as im:
        stamp = im.convert("RGBA")
    f = 0.9 * height / stamp.height
    stamp = stamp.resize((round(stamp.width * f), round(stamp.height * f)),
                         Image.Resampling.LANCZOS)
    for x in (width // 4 - stamp.width // 2, 3 * width // 4 - stamp.width // 2):
        scene.alpha_composite(stamp, (max(0, x), height - stamp.height))
    return scene.convert("RGB")


def pan(photo: Path) -> list[Image.Image]:
    """A camera panning slowly across the scene: FRAMES crops, 1 % of the width apart."""
    scene = _scene(photo, 1000, 400)
    side, step = 400, 0.010 * 1000
    return [scene.crop((round(k * step), 0, round(k * step) + side, side)).resize(
        (CANVAS, CANVAS), Image.Resampling.LANCZOS) for k in range(FRAMES)]


def zoom(photo: Path) -> list[Image.Image]:
    """A camera zooming slowly into the scene: FRAMES crops, each 1.5 % smaller."""
    scene = _scene(photo, 500, 500)
    out = []
    for k in range(FRAMES):
        side = 500 * 0.985 ** k
        x0, y0 = 250 - side / 2, 300 - side / 2 * 0.985 ** (FRAMES - k)
        y0 = min(max(y0, 0), 500 - side)
        out.append(scene.crop((round(x0), round(y0), round(x0 + side), round(y0 + side)))
                   .resize((CANVAS, CANVAS), Image.Resampling.LANCZOS))
    return out


PALETTE_PICTURES = 40
PALETTE_HUES = 6


def recoloured(img: Image.Image, turn: float, darker: float = 1.0) -> Image.Image:
    """``img`` with the hue of its coloured pixels turned by ``turn`` (of a full turn) and
    their value scaled by ``darker``; grey pixels (the outlines) and transparency kept."""
    rgba = img.convert("RGBA")
    alpha = rgba.getchannel("A")
    hsv = np.asarray(rgba.convert("RGB").convert("HSV"), dtype=np.float32)
    coloured = hsv[..., 1] > 40
    hsv[..., 0] = np.where(coloured, (hsv[..., 0] + 255 * turn) % 256, hsv[..., 0])
    hsv[..., 2] = np.where(coloured, hsv[..., 2] * darker, hsv[..., 2])
    out = Image.fromarray(np.clip(hsv, 0, 255).astype(np.uint8), "HSV").convert("RGBA")
    out.putalpha(alpha)
    return out


def palette(base: Path) -> list[tuple[str, Image.Image]]:
    """``PALETTE_PICTURES`` pictures of ``base`` in ``PALETTE_HUES`` colourings each."""
    images = list_images(base)
    if not images:
        raise SystemExit(f"no images in {base}")
    pick = images[:: max(1, len(images) // PALETTE_PICTURES)][:PALETTE_PICTURES]
    out = []
    for i, path in enumerate(pick):
        with Image.open(path) as im:
            im.load()
            for h in range(PALETTE_HUES):
                darker = 0.7 if h >= PALETTE_HUES // 2 else 1.0
                out.append((f"p{i:02d}_h{h}.png", recoloured(im, h / PALETTE_HUES, darker)))
    return out


def _picture(base: Path, name: str) -> Path:
    """The photo stamp a series moves over: ``name`` in ``base``, else its middle image."""
    if (base / name).is_file():
        return base / name
    images = list_images(base)
    if not images:
        raise SystemExit(f"no images in {base}")
    return images[len(images) // 2]


def design(variant: str, base: Path) -> dict[str, list[tuple[str, Image.Image]]]:
    """The series of a variant: name -> ordered (file name, image); runs listed in order."""
    if variant == "star":
        grid = [(s, i) for i in (0.15, 0.25, 0.35, 0.45) for s in range(40, 101, 2)]
        return {"star": [(f"s{s:03d}_c{round(i * 100):02d}.png", star(s, i)) for s, i in grid],
                "pan": [(f"f{k:02d}.png", im) for k, im in
                        enumerate(pan(_picture(base, "plants/flowers/anemone_red.png")))]}
    if variant == "flower":
        grid = [(p, h) for h in (0.0, 0.15, 0.6, 0.8) for p in range(5, 21)]
        return {"flower": [(f"p{p:02d}_h{round(h * 100):02d}.png", flower(p, h))
                           for p, h in grid],
                "zoom": [(f"z{k:02d}.png", im)
                         for k, im in enumerate(zoom(_picture(base, "food/pizza.png")))]}
    if variant == "palette":
        return {"palette": palette(base)}
    raise SystemExit(f"unknown variant {variant!r} (star, flower, palette)")


def runs(names: list[str], variant: str) -> list[list[str]]:
    """Runs of consecutive members along the first parameter (the second one held)."""
    if variant in ("star", "flower", "palette"):
        by: dict[str, list[str]] = {}
        for n in names:  # star, flower: one run per second parameter; palette: per picture
            name = n.rsplit("/", 1)[-1]
            key = name.split("_")[0] if variant == "palette" else n.rsplit("_", 1)[-1]
            by.setdefault(key, []).append(n)
        return list(by.values())
    return [names]


def run_steps(root: Path, paths: list[Path], D: np.ndarray, natural: float) -> dict:
    """Distances between consecutive members of the runs in ``root/series.json`` over the
    natural step (quantiles): what a near-identical step must catch. ``D``: distances between
    the images ``paths`` in one space."""
    info_file = root / "series.json"
    if not info_file.exists():
        return {}
    index = {str(p.relative_to(root)): i for i, p in enumerate(paths)}
    ratios = []
    for run in json.loads(info_file.read_text())["runs"]:
        ids = [index[m] for m in run if m in index]
        ratios += [float(D[a, b]) / natural for a, b in zip(ids[:-1], ids[1:], strict=True)]
    q = np.percentile(ratios, [10, 50, 75, 90]) if ratios else [np.nan] * 4
    return {"pairs": len(ratios), **{f"p{k}": round(float(v), 3)
                                      for k, v in zip((10, 50, 75, 90), q, strict=True)}}


def generate(out: Path, base: Path, variant: str) -> dict:
    """Write the collection into ``out``; return the description stored in series.json."""
    out.mkdir(parents=True, exist_ok=True)
    for p in list_images(base):
        dst = out / p.relative_to(base)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst)
    info: dict = {"base": str(base), "variant": variant, "series": {}, "runs": []}
    for name, members in design(variant, base).items():
        folder = out / "series" / name
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for fname, img in members:
            img.save(folder / fname)
            files.append(f"series/{name}/{fname}")
        info["series"][name] = files
        kind = variant if name in ("star", "flower", "palette") else name
        info["runs"] += runs(files, kind)
    (out / "series.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--base", type=Path, default=None, help="a folder of images (default: the "
                    "demo collection)")
    ap.add_argument("--limit", type=int, default=None, help="images of the demo collection")
    ap.add_argument("--variant", default="star")
    args = ap.parse_args()
    (base,), which = real_collections([args.base] if args.base else None, args.limit)
    print(f"base: {which}")
    info = generate(args.out, base, args.variant)
    sizes = {k: len(v) for k, v in info["series"].items()}
    print(f"{args.out}: {len(list_images(args.out))} images; series {sizes}")
    print(json.dumps({"base": which, "variant": args.variant, "out": str(args.out),
                      "images": len(list_images(args.out)), "series": sizes,
                      "runs": len(info["runs"])}))


if __name__ == "__main__":
    main()
