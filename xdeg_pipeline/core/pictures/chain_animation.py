"""A chain as an animation (GIF or WebP): each image held, then cross-faded into the next.

Labels are hostile text like everywhere in xdeg: they are drawn with :func:`render.safe_text`
(controls and characters the font lacks replaced), never interpreted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from xdeg_pipeline.core.images.provenance import credit_text
from xdeg_pipeline.core.pictures.render import fit_text, get_font, load_thumb, safe_text
from xdeg_pipeline.core.storage.atomic import write_with

FORMATS = {".gif": "GIF", ".webp": "WEBP"}
BACKGROUND = (255, 255, 255)
LETTERBOX = (238, 238, 238)
TEXT = (30, 30, 30)
MUTED = (110, 110, 110)
MAX_IMAGES = 200


def animation_format(out: Path, fmt: str | None = None) -> str:
    """``GIF`` or ``WEBP``, from ``fmt`` or the file's suffix (ValueError otherwise)."""
    name = (fmt or "").upper() or FORMATS.get(Path(out).suffix.lower(), "")
    if name not in FORMATS.values():
        raise ValueError(f"an animation is a .gif or .webp file, not {Path(out).name!r}")
    return name


def _frame(
    img: Image.Image | None, label: str, caption: str, size: int, footer: str | None,
    credit: str | None = None,
) -> Image.Image:
    """One still; ``credit`` None leaves no room for a credit line (every frame of an
    animation has the same size)."""
    footer = footer or None
    label_font, small = get_font(max(12, size // 18)), get_font(max(10, size // 24))
    line = label_font.size + 6
    foot_h = (small.size + 6) * (bool(footer) + (credit is not None))
    frame = Image.new("RGB", (size, size + 2 * line + foot_h + 8), BACKGROUND)
    cell = Image.new("RGB", (size, size), LETTERBOX)
    if img is not None:
        cell.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    frame.paste(cell, (0, 0))
    draw = ImageDraw.Draw(frame)
    text = fit_text(safe_text(label, label_font), label_font, size - 8)
    draw.text((size / 2, size + 4), text, font=label_font, fill=TEXT, anchor="ma")
    note = fit_text(safe_text(caption, small), small, size - 8)
    draw.text((size / 2, size + 4 + line), note, font=small, fill=MUTED, anchor="ma")
    bottom = frame.height - 4
    for text in (footer, credit):  # the collection's attribution last, the image's credit above
        if text is not None:
            foot = fit_text(safe_text(text, small), small, size - 8)
            draw.text((size / 2, bottom), foot, font=small, fill=MUTED, anchor="md")
            bottom -= small.size + 6
    return frame


def chain_animation(
    images: Sequence[Path],
    labels: Sequence[str],
    out: Path,
    *,
    steps: Sequence[float] | None = None,
    fmt: str | None = None,
    size: int = 320,
    hold_ms: int = 1000,
    fade_ms: int = 360,
    fade_frames: int = 4,
    attribution: str | None = None,
    provenance: Sequence[Mapping[str, str | None] | None] | None = None,
) -> Path:
    """Write the chain as an animated GIF or WebP (looping); returns ``out``.

    Each image is shown ``hold_ms`` with its label and its place in the chain ("3 / 9, step
    0.41"), then ``fade_frames`` cross-fade frames lead to the next. Unreadable images show
    an empty grey square. ``attribution`` is written under every frame, and above it the
    image's credit and rights from its ``provenance`` record (one per image) when it has them.
    """
    name = animation_format(out, fmt)
    if not images or len(labels) != len(images):
        raise ValueError("an animation needs at least one image and one label per image")
    if len(images) > MAX_IMAGES:
        raise ValueError(f"an animation holds at most {MAX_IMAGES} images")
    if steps is not None and len(steps) != len(images) - 1:
        raise ValueError(f"{len(images)} images need {len(images) - 1} steps")
    if size < 32:
        raise ValueError("size must be >= 32")
    n = len(images)
    if provenance is not None and len(provenance) != n:
        raise ValueError(f"{len(images)} images need {len(images)} provenance records")
    credits: list[str | None] = [credit_text(r, attribution) for r in provenance or [None] * n]
    if not any(credits):
        credits = [None] * n
    stills = []
    for i, (path, label) in enumerate(zip(images, labels)):
        step = f", step {float(steps[i - 1]):.3g}" if steps is not None and i else ""
        stills.append(
            _frame(load_thumb(Path(path), size), label, f"{i + 1} / {n}{step}", size, attribution,
                   credits[i])
        )
    frames, durations = [], []
    for i, still in enumerate(stills):
        frames.append(still)
        durations.append(hold_ms)
        if i + 1 < n and fade_frames > 0:
            for f in range(1, fade_frames + 1):
                frames.append(Image.blend(still, stills[i + 1], f / (fade_frames + 1)))
                durations.append(max(20, fade_ms // fade_frames))

    def _save(tmp: Path) -> None:
        options = {"save_all": True, "append_images": frames[1:], "duration": durations,
                   "loop": 0}
        if name == "WEBP":
            options.update(quality=80, method=4)
        else:
            options.update(optimize=False, disposal=1)
        frames[0].save(tmp, format=name, **options)

    return write_with(Path(out), _save)
