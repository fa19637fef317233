"""Pictures of a path: a PNG strip, a self-contained HTML page, Markdown for the Dagster UI.

Labels come from file names and are treated as hostile: HTML output escapes every piece of
text, and the PNG strip replaces characters the font cannot draw (and control or bidi
characters) instead of failing.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from xdeg_pipeline.core.images.decode import load_rgb
from xdeg_pipeline.core.images.provenance import credits_line
from xdeg_pipeline.core.pictures import markdown
from xdeg_pipeline.core.storage.atomic import write_with

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

CANVAS = (255, 255, 255)
LETTERBOX = (238, 238, 238)
PLACEHOLDER = (170, 170, 170)
TEXT = (30, 30, 30)
MUTED = (110, 110, 110)
ARROW = (150, 150, 150)
PAD = 8
MIN_WIDTH = 360
ELLIPSIS = "\u2026"
_NOTDEF_PROBE = "\U0010fffd"  # plane-16 private use: no font has it, so it draws .notdef


# ----------------------------------------------------------------------------- fonts and text


@functools.cache  # the installed files do not change while a process runs
def _font_files() -> list[str]:
    """DejaVu Sans shipped with matplotlib (a project dependency), then the system's.

    matplotlib's copy is found among its installed files, not through its module: while
    :mod:`xdeg_pipeline.core.graph.igraph_import` imports igraph, matplotlib is hidden from
    ``sys.modules`` for a moment, and a font looked up then (another thread) is cached."""
    files = []
    try:
        dist = importlib.metadata.distribution("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        ttf = Path(str(dist.locate_file("matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf")))
        if ttf.is_file():
            files.append(str(ttf))
    files.append("DejaVuSans.ttf")  # ImageFont.truetype searches the system font folders
    return files


@functools.lru_cache(maxsize=16)
def get_font(size: int) -> Font:
    """A TrueType font of ``size`` px (DejaVu Sans, else Pillow's default), else the bitmap one."""
    for file in _font_files():
        try:
            return ImageFont.truetype(file, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


@functools.lru_cache(maxsize=16)
def _notdef_signature(font: Font) -> bytes | None:
    if not isinstance(font, ImageFont.FreeTypeFont):
        return None
    return _mask_bytes(font, _NOTDEF_PROBE)


def _mask_bytes(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    mask = font.getmask(ch)
    return repr(mask.size).encode() + bytes(Image.Image()._new(mask).tobytes())


@functools.lru_cache(maxsize=65536)
def _drawable(font: Font, ch: str) -> bool:
    if not isinstance(font, ImageFont.FreeTypeFont):
        return 32 <= ord(ch) < 127 or 160 <= ord(ch) < 256  # bitmap font: latin-1 only
    return _mask_bytes(font, ch) != _notdef_signature(font)


def _substitute(font: Font, ch: str) -> str:
    """What to draw for a character the font lacks: its ASCII decomposition, else ``?``."""
    ascii_part = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    ascii_part = "".join(c for c in ascii_part if c.isprintable())
    return ascii_part if ascii_part and all(_drawable(font, c) for c in ascii_part) else "?"


def safe_text(text: object, font: Font) -> str:
    """``text`` with only characters ``font`` can draw: controls become spaces, format/bidi
    characters are dropped, lone surrogates (undecodable file names) and missing glyphs are
    replaced."""
    out = []
    for ch in str(text):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat == "Cf":
            continue
        elif cat == "Cs":  # lone surrogate from an undecodable file name
            out.append("\ufffd" if _drawable(font, "\ufffd") else "?")
        elif ch == " " or _drawable(font, ch):
            out.append(ch)
        else:
            out.append(_substitute(font, ch))
    return "".join(out)


def _width(font: Font, text: str) -> float:
    return font.getlength(text) if text else 0.0


def fit_text(text: str, font: Font, max_width: float) -> str:
    """``text`` (already safe) cut to ``max_width`` pixels with an ellipsis when it is longer."""
    if _width(font, text) <= max_width:
        return text
    ell = ELLIPSIS if _drawable(font, ELLIPSIS) else "..."
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _width(font, text[:mid].rstrip() + ell) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return (text[:lo].rstrip() + ell) if lo or _width(font, ell) <= max_width else ""


def wrap_text(text: str, font: Font, max_width: float, max_lines: int = 8) -> list[str]:
    """Greedy word wrap of safe text; words wider than a line are split; the last line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while _width(font, word) > max_width and len(word) > 1:
            cut = len(fit_text(word, font, max_width).rstrip(ELLIPSIS + ".")) or 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        cand = f"{line} {word}" if line else word
        if _width(font, cand) <= max_width:
            line = cand
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1 :])]
    return [fit_text(x, font, max_width) for x in lines]


def _line_height(font: Font) -> int:
    box = font.getbbox("Hgy|")
    return int(box[3] - min(0, box[1])) + 2


# ----------------------------------------------------------------------------- images


def _to_image(obj: object) -> Image.Image:
    if isinstance(obj, Image.Image):
        return obj
    return Image.fromarray(obj)  # numpy array (H, W, 3) uint8


def load_thumb(path: Path, thumb: int) -> Image.Image | None:
    """The image scaled to fit a ``thumb`` square (RGB), or None when it cannot be read."""
    try:
        # EXIF rotation, odd modes, alpha on a neutral background: the project's one loader
        img = _to_image(load_rgb(Path(path), max_side=max(thumb * 2, 64))).convert("RGB")
        if img.width < 1 or img.height < 1:
            return None
        return ImageOps.contain(img, (thumb, thumb), Image.Resampling.LANCZOS)
    except Exception:  # any unreadable file becomes a placeholder, never a crash
        return None


def letterbox(img: Image.Image | None, thumb: int) -> Image.Image:
    """A ``thumb`` square: the image centred on the neutral background, or a placeholder."""
    if img is None:
        cell = Image.new("RGB", (thumb, thumb), PLACEHOLDER)
        font = get_font(max(10, thumb // 8))
        text = fit_text(safe_text("missing", font), font, thumb - 4)
        draw = ImageDraw.Draw(cell)
        draw.text((thumb / 2, thumb / 2), text, font=font, fill=CANVAS, anchor="mm")
        return cell
    cell = Image.new("RGB", (thumb, thumb), LETTERBOX)
    cell.paste(img, ((thumb - img.width) // 2, (thumb - img.height) // 2))
    return cell


def png_bytes(img: Image.Image, optimize: bool = False) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=optimize)
    return buf.getvalue()


def format_step(d: float) -> str:
    try:
        d = float(d)
    except (TypeError, ValueError):
        return "?"
    return f"{d:.3g}" if math.isfinite(d) else str(d)


def check_inputs(images: Sequence[Path], labels: Sequence[str],
                 steps: Sequence[float] | None, provenance: Sequence | None = None) -> None:
    """ValueError unless there is an image, one label (and record) per image, one step per
    pair."""
    if not images:
        raise ValueError("a path picture needs at least one image")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if provenance is not None and len(provenance) != len(images):
        raise ValueError(f"{len(images)} images but {len(provenance)} provenance records")
    if steps is not None and len(steps) != len(images) - 1:
        raise ValueError(f"{len(images)} images need {len(images) - 1} steps, got {len(steps)}")


# ----------------------------------------------------------------------------- PNG strip


def path_strip_png(
    images: Sequence[Path],
    labels: Sequence[str],
    out: Path,
    *,
    thumb: int = 128,
    steps: Sequence[float] | None = None,
    title: str | None = None,
    attribution: str | None = None,
    provenance: Sequence[Mapping[str, str | None] | None] | None = None,
    max_per_row: int = 12,
) -> Path:
    """Draw the chain as one PNG, left to right, wrapping into rows of ``max_per_row``.

    Each image is letterboxed in a ``thumb`` square with its label under it; ``steps`` (one
    per consecutive pair) are drawn as an arrow and a number between the images (at the start
    of a row for the step that crosses a wrap). ``title`` goes on top, ``attribution`` at the
    bottom (wrapped, never cut short), above it a credits line from the images' ``provenance``
    records (``1 Label — credit (rights); ...``, cut to two lines). Unreadable images show a
    grey "missing" placeholder.
    """
    canvas = strip_image(images, labels, thumb=thumb, steps=steps, title=title,
                         attribution=attribution, provenance=provenance, max_per_row=max_per_row)
    return write_with(Path(out), lambda p: canvas.save(p, format="PNG", optimize=True))


#: Thumbnail sizes tried, largest first, for a strip that must fit a box.
FIT_THUMBS = (128, 112, 96, 80, 64, 48)


def strip_layout(n: int, thumb: int, steps: bool, max_per_row: int) -> tuple[int, int, int]:
    """(columns, rows, grid width) of a strip of ``n`` images in rows of ``max_per_row``."""
    cols = min(n, max_per_row)
    rows = math.ceil(n / cols)
    gap = max(56, thumb // 2) if steps else 2 * PAD
    lead = gap if (steps and rows > 1) else 0
    side = max(PAD, (gap - 5) // 2)  # room for the outer labels, which may be wider than thumb
    return cols, rows, max(MIN_WIDTH, lead + cols * thumb + (cols - 1) * gap + 2 * side)


def fit_strip_png(images: Sequence[Path], labels: Sequence[str], max_width: int,
                  max_height: int, **options) -> bytes:
    """The strip (:func:`strip_image`, same ``options``) wrapped into rows so that it fits
    ``max_width`` x ``max_height`` px: the largest thumbnails of :data:`FIT_THUMBS` whose
    picture fits, each with as many images per row as the width takes (the smallest when none
    fits: then it is as narrow as it can be, and scrolls)."""
    check_inputs(images, labels, options.get("steps"), options.get("provenance"))
    img = None
    for thumb in FIT_THUMBS:
        per_row = len(images)
        while per_row > 1 and strip_layout(len(images), thumb, options.get("steps") is not None,
                                           per_row)[2] > max_width:
            per_row -= 1
        img = strip_image(images, labels, thumb=thumb, max_per_row=per_row, **options)
        if img.width <= max_width and img.height <= max_height:
            break
    return png_bytes(img, optimize=True)


def strip_image(
    images: Sequence[Path],
    labels: Sequence[str],
    *,
    thumb: int = 128,
    steps: Sequence[float] | None = None,
    title: str | None = None,
    attribution: str | None = None,
    provenance: Sequence[Mapping[str, str | None] | None] | None = None,
    max_per_row: int = 12,
) -> Image.Image:
    """The picture :func:`path_strip_png` writes."""
    check_inputs(images, labels, steps, provenance)
    if thumb < 16 or max_per_row < 1:
        raise ValueError("thumb must be >= 16 and max_per_row >= 1")
    n = len(images)
    cols, rows, width = strip_layout(n, thumb, steps is not None, max_per_row)
    label_font = get_font(max(11, thumb // 10))
    step_font = get_font(max(10, thumb // 12))
    title_font = get_font(max(14, thumb // 7))
    small_font = get_font(max(10, thumb // 12))

    gap = max(56, thumb // 2) if steps is not None else 2 * PAD
    lead = gap if (steps is not None and rows > 1) else 0
    side = max(PAD, (gap - 5) // 2)
    inner_w = width - 2 * PAD
    label_h = _line_height(label_font)
    row_h = thumb + 4 + label_h + PAD

    title_lines = wrap_text(safe_text(title, title_font), title_font, inner_w, 2) if title else []
    credits = credits_line(provenance, attribution) if provenance else None
    attr_lines = (
        wrap_text(safe_text(credits, small_font), small_font, inner_w, 2) if credits else []
    ) + (
        wrap_text(safe_text(attribution, small_font), small_font, inner_w, 12)
        if attribution
        else []
    )
    title_h = len(title_lines) * _line_height(title_font) + (PAD if title_lines else 0)
    attr_h = len(attr_lines) * _line_height(small_font) + (PAD if attr_lines else 0)
    height = PAD + title_h + rows * row_h + attr_h + PAD

    canvas = Image.new("RGB", (width, height), CANVAS)
    draw = ImageDraw.Draw(canvas)
    y = PAD
    for line in title_lines:
        draw.text((PAD, y), line, font=title_font, fill=TEXT)
        y += _line_height(title_font)
    grid_top = PAD + title_h

    for i, path in enumerate(images):
        r, c = divmod(i, cols)
        x = side + lead + c * (thumb + gap)
        top = grid_top + r * row_h
        canvas.paste(letterbox(load_thumb(Path(path), thumb), thumb), (x, top))
        label = fit_text(safe_text(labels[i], label_font), label_font, thumb + gap - 6)
        draw.text((x + thumb / 2, top + thumb + 3), label, font=label_font, fill=TEXT, anchor="ma")
        if steps is not None and i > 0:
            _draw_step(draw, x - gap, top + thumb // 2, gap, format_step(steps[i - 1]), step_font)

    y = height - PAD - attr_h + PAD
    for line in attr_lines:
        draw.text((PAD, y), line, font=small_font, fill=MUTED)
        y += _line_height(small_font)
    return canvas


def _draw_step(draw: ImageDraw.ImageDraw, x: int, y: int, gap: int, text: str, font: Font) -> None:
    """A small arrow across ``[x, x + gap]`` at height ``y`` with the distance above it."""
    x0, x1 = x + 6, x + gap - 6
    draw.line([(x0, y), (x1 - 4, y)], fill=ARROW, width=2)
    draw.polygon([(x1, y), (x1 - 7, y - 5), (x1 - 7, y + 5)], fill=ARROW)
    label = fit_text(safe_text(text, font), font, gap - 4)
    draw.text((x + gap / 2, y - 6), label, font=font, fill=MUTED, anchor="md")


# ----------------------------------------------------------------------------- HTML text

_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: object) -> str:
    """Text safe to write as UTF-8 HTML: surrogates and C0/C1 controls become U+FFFD, bidi
    overrides (which could reorder the page's text) are dropped."""
    out = []
    for ch in str(text):
        if ch in _BIDI_CONTROLS:
            continue
        bad = unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n"
        out.append("\ufffd" if bad else ch)
    return "".join(out)


# ----------------------------------------------------------------------------- Markdown


def strip_markdown(png_path: Path, max_bytes: int = 1_500_000) -> str:
    """Markdown with the PNG inlined as a data URI (for ``MetadataValue.md`` in Dagster).

    A PNG larger than ``max_bytes`` is downscaled until it fits; the alt text (the file's
    stem) is escaped for Markdown.
    """
    png_path = Path(png_path)
    data = png_path.read_bytes()
    if len(data) > max_bytes:
        with Image.open(io.BytesIO(data)) as im:
            img = im.convert("RGB")
        for _ in range(12):
            scale = max(0.1, min(0.9, math.sqrt(max_bytes / len(data)) * 0.95))
            img = img.resize(
                (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                Image.Resampling.LANCZOS,
            )
            data = png_bytes(img, optimize=True)
            if len(data) <= max_bytes:
                break
    return markdown.png_image(data, clean_text(png_path.stem))
