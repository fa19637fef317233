"""Pictures of the collection map: every thumbnail at its 2-D position, optionally a chain on top.

The positions come from :mod:`.collection_map`, the small pictures from the
atlases (:func:`atlas_cells`) or any function of a content hash. A chain is drawn as a line
through its images, which are shown larger, numbered, with the source and target marked.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from xdeg_pipeline.core import params
from xdeg_pipeline.core.pictures.atlases import AtlasSet
from xdeg_pipeline.core.pictures.labels import Box, leader_end, overlaps, place_labels
from xdeg_pipeline.core.pictures.render import MUTED, TEXT, fit_text, get_font, safe_text, wrap_text
from xdeg_pipeline.core.storage.atomic import write_with

ThumbOf = Callable[[str], Image.Image | None]
BACKGROUND = (255, 255, 255)
DOT = (160, 160, 170)
DENSITY = np.array([(255, 255, 255), (150, 170, 200), (70, 100, 160), (30, 50, 110),
                    (10, 20, 60)], np.uint8)  # 0, 1, 2-4, 5-19, 20+ images on a pixel
CHAIN = (214, 40, 90)
SOURCE = (20, 140, 70)
TARGET = (40, 80, 200)
PICTURE_VERSION = 1  # raise it when a map drawn now would differ from one drawn before


def atlas_cells(atlases: AtlasSet, folder: Path) -> ThumbOf:
    """A function content hash -> its atlas cell as an image (None when it has none)."""
    where = {h: (int(s), int(c)) for h, s, c in atlases.index.itertuples(index=False)}
    files = dict(zip(atlases.sheets["sheet"].astype(int), atlases.sheets["sha256"]))
    opened: dict[int, Image.Image | None] = {}

    def cell(content_hash: str) -> Image.Image | None:
        if content_hash not in where:
            return None
        sheet, slot = where[content_hash]
        if sheet not in opened:
            try:
                data = (Path(folder) / f"{files[sheet]}.webp").read_bytes()
                with Image.open(io.BytesIO(data)) as im:
                    opened[sheet] = im.convert("RGB")
            except (OSError, KeyError):
                opened[sheet] = None
        sheet_img = opened[sheet]
        if sheet_img is None:
            return None
        x, y = (slot % atlases.side) * atlases.cell, (slot // atlases.side) * atlases.cell
        return sheet_img.crop((x, y, x + atlases.cell, y + atlases.cell))

    return cell


def _canvas_positions(xy: np.ndarray, width: int, height: int, margin: int) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return xy
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-12)
    scale = min((width - 2 * margin) / span[0], (height - 2 * margin) / span[1])
    offset = np.array([width, height]) / 2 - (lo + hi) / 2 * scale
    return xy * scale + offset


def map_picture(hashes: Sequence[str], xy: np.ndarray, thumb_of: ThumbOf, out: Path,
                **options) -> Path:
    """Write :func:`map_image` as a PNG file (atomically); returns ``out``."""
    data = map_png(hashes, xy, thumb_of, **options)
    return write_with(Path(out), lambda p: p.write_bytes(data))


def map_png(hashes: Sequence[str], xy: np.ndarray, thumb_of: ThumbOf, **options) -> bytes:
    """:func:`map_image` as PNG bytes (zlib's default level: ``optimize`` made the 1600 px map
    1 % smaller in 4x the time, 0.42 s instead of 0.11 s, paid by every build that moves it)."""
    return _png(map_image(hashes, xy, thumb_of, **options))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class _Frame:
    """Where a map picture's parts go: the title band, the map, the attribution lines."""

    font: Any
    small: Any
    head: int
    attr_lines: list[str]
    height: int  # the map's own
    total: int


def _frame(size: int, height: int | None, thumb: int, title: str | None,
           attribution: str | None) -> _Frame:
    font, small = get_font(max(14, size // 70)), get_font(max(11, size // 110))
    head = font.size + 16 if title else 0
    attr_lines = wrap_text(safe_text(attribution, small), small, size - 16) if attribution else []
    foot = (small.size + 4) * len(attr_lines) + (12 if attr_lines else 0)
    height = max(4 * thumb, (height or size + head + foot) - head - foot)
    return _Frame(font, small, head, attr_lines, height, height + head + foot)


def _positions(xy: np.ndarray, size: int, frame: _Frame, thumb: int) -> np.ndarray:
    pos = _canvas_positions(xy, size, frame.height, margin=thumb + 8)
    pos[:, 1] += frame.head
    return pos


def map_image(
    hashes: Sequence[str],
    xy: np.ndarray,
    thumb_of: ThumbOf,
    *,
    size: int = 1600,
    height: int | None = None,
    thumb: int = 24,
    chain: Sequence[str] | None = None,
    chain_labels: Sequence[str] | None = None,
    title: str | None = None,
    attribution: str | None = None,
) -> Image.Image:
    """The map: thumbnails at their positions, the chain (content hashes) drawn over it;
    ``size`` px wide and ``height`` px high in all (default: a square map under the title,
    above the attribution)."""
    hashes = list(hashes)
    if len(hashes) != len(np.asarray(xy).reshape(-1, 2)):
        raise ValueError(f"{len(hashes)} hashes but {len(np.asarray(xy))} positions")
    chain = list(chain or [])
    row_of = {h: i for i, h in enumerate(hashes)}
    unknown = [h for h in chain if h not in row_of]
    if unknown:
        raise ValueError(f"{len(unknown)} chain images are not on the map")
    frame = _frame(size, height, thumb, title, attribution)
    canvas = Image.new("RGB", (size, frame.total), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    pos = _positions(xy, size, frame, thumb)
    on_chain = set(chain)
    if len(hashes) > params.MAP_PICTURE_MAX_THUMBNAILS:
        _density(canvas, pos)
    else:
        for h, (x, y) in zip(hashes, pos):
            if h in on_chain:
                continue
            _paste(canvas, draw, thumb_of(h), x, y, thumb)
    if chain:
        bounds = (2, frame.head + 2, size - 2, frame.head + frame.height - 2)
        _draw_chain(canvas, draw, [pos[row_of[h]] for h in chain], chain, thumb_of, thumb,
                    chain_labels, bounds=bounds)
    if title:
        font = frame.font
        draw.text((10, 8), fit_text(safe_text(title, font), font, size - 20), font=font, fill=TEXT)
    y = frame.height + frame.head + 6
    for line in frame.attr_lines:
        draw.text((8, y), line, font=frame.small, fill=MUTED)
        y += frame.small.size + 4
    return canvas


def add_to_map_png(previous: bytes, hashes: Sequence[str], xy: np.ndarray, new_from: int,
                   thumb_of: ThumbOf, *, size: int = 1600, height: int | None = None,
                   thumb: int = 24, title: str | None = None,
                   attribution: str | None = None) -> bytes | None:
    """:func:`map_png` of ``hashes`` (no chain) made from ``previous``: the same map drawn
    with the same options before the images from ``new_from`` on were added. Their
    thumbnails are pasted on top, as drawing it whole pastes them last, so the picture is the
    same (but for the old thumbnails of a lossy atlas sheet re-encoded since: a few pixel
    values a few levels off). None where it would not be: the new images widen the map's
    extent (every position on the picture moves), the map is drawn as a density, or
    ``previous`` is not a picture of this size."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if not 0 < new_from <= len(hashes) == len(xy) or \
            len(hashes) > params.MAP_PICTURE_MAX_THUMBNAILS:
        return None
    old = xy[:new_from]
    if (old.min(axis=0) != xy.min(axis=0)).any() or (old.max(axis=0) != xy.max(axis=0)).any():
        return None
    frame = _frame(size, height, thumb, title, attribution)
    try:
        with Image.open(io.BytesIO(previous)) as im:
            canvas = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if canvas.size != (size, frame.total):
        return None
    draw = ImageDraw.Draw(canvas)
    pos = _positions(xy, size, frame, thumb)
    for h, (x, y) in zip(hashes[new_from:], pos[new_from:]):
        _paste(canvas, draw, thumb_of(h), x, y, thumb)
    return _png(canvas)


def _density(canvas: Image.Image, pos: np.ndarray) -> None:
    """Every image as a pixel, darker where more of them fall (a map too large for thumbnails)."""
    width, height = canvas.size
    px = np.clip(pos[:, 0].astype(np.int64), 0, width - 1)
    py = np.clip(pos[:, 1].astype(np.int64), 0, height - 1)
    counts = np.bincount(py * width + px, minlength=width * height).reshape(height, width)
    level = np.digitize(counts, [1, 2, 5, 20])
    pixels = np.asarray(canvas).copy()
    pixels[counts > 0] = DENSITY[level[counts > 0]]
    canvas.paste(Image.fromarray(pixels))


def _paste(canvas: Image.Image, draw: ImageDraw.ImageDraw, img, x: float, y: float, t: int):
    if img is None:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=DOT)
        return
    img = img.copy()
    img.thumbnail((t, t), Image.Resampling.LANCZOS)
    canvas.paste(img, (int(x - img.width / 2), int(y - img.height / 2)))


def chain_layout(points: Sequence[tuple[float, float]], tag_sizes: Sequence[tuple[float, float]],
                 thumb: int, bounds: Box) -> tuple[list[Box], list[Box]]:
    """Where a chain's images (a square ``1.6 * thumb`` around each point) and their tags go:
    each tag as near its image as it can without covering another tag or any chain image,
    the source's and the target's placed first. Returns (image boxes, tag boxes), in chain
    order."""
    half = int(thumb * 1.6) / 2 + 2
    boxes = [(x - half, y - half, x + half, y + half) for x, y in points]
    last = len(points) - 1
    order = [0, *([last] if last else []), *range(1, last)]
    placed = place_labels([points[i] for i in order], [tag_sizes[i] for i in order], bounds,
                          obstacles=boxes)
    tags: list[Box] = [boxes[0]] * len(points)
    for i, box in zip(order, placed):
        tags[i] = box
    return boxes, tags


def _draw_chain(canvas, draw, points, chain, thumb_of, thumb, labels, bounds: Box) -> None:
    """The chain's line and images (outlined: source green, target blue), then a numbered tag
    for each image (:func:`chain_layout`), with a leader line to it; the source's and
    target's tags carry their labels."""
    line = [tuple(map(float, p)) for p in points]
    width = max(3, canvas.width // 320)
    if len(line) > 1:
        draw.line(line, fill=(255, 255, 255), width=width + 4, joint="curve")
        draw.line(line, fill=CHAIN, width=width, joint="curve")
    last = len(chain) - 1
    colours = [SOURCE if i == 0 else TARGET if i == last else CHAIN for i in range(len(chain))]
    font = get_font(max(12, canvas.width // 75))
    tags = [str(i + 1) for i in range(len(chain))]
    if labels is not None:
        for i in {0, last}:
            text = f"{i + 1} {labels[i]}"
            tags[i] = fit_text(safe_text(text, font), font, canvas.width / 3)
    boxes, placed = chain_layout(line, [_tag_size(draw, t, font) for t in tags], thumb, bounds)
    for i in [*range(1, last), *([last] if last else []), 0]:  # the ends on top
        draw.rectangle(boxes[i], outline=colours[i], width=3, fill=(255, 255, 255))
        _paste(canvas, draw, thumb_of(chain[i]), *line[i], int(thumb * 1.6))
    for i, box in enumerate(placed):
        if not overlaps(box, boxes[i]):
            start = leader_end(box, *line[i])
            draw.line([start, leader_end(boxes[i], *start)], fill=colours[i], width=2)
    for i, box in enumerate(placed):
        draw.rectangle(box, fill=colours[i])
        draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), tags[i], font=font,
                  fill=(255, 255, 255), anchor="mm")


def _tag_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[float, float]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, anchor="mm")
    return right - left + 8, bottom - top + 6
