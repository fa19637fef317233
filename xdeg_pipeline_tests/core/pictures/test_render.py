"""Pictures of a path: PNG strip, self-contained HTML, Markdown data URI."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from xdeg_pipeline.core.pictures import render
from xdeg_pipeline.core.pictures.render import PLACEHOLDER, path_strip_png, strip_markdown
from xdeg_pipeline_tests.helpers.pictures import HOSTILE, sample_images


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return sample_images(tmp_path / "src")


def _strip(images: list[Path], tmp_path: Path, name: str, **kw: object) -> Image.Image:
    out = path_strip_png(images, [p.stem for p in images], tmp_path / name, **kw)
    with Image.open(out) as im:
        im.load()
        return im.convert("RGB")


def _count(im: Image.Image, rgb: tuple[int, int, int], tol: int = 12) -> int:
    diff = np.abs(np.asarray(im, dtype=np.int16) - np.array(rgb, dtype=np.int16))
    return int((diff <= tol).all(axis=-1).sum())


def test_strip_size_follows_columns_and_rows(images: list[Path], tmp_path: Path) -> None:
    red = images[0]
    kw = {"thumb": 96, "max_per_row": 4}
    w = {n: _strip([red] * n, tmp_path, f"s{n}.png", **kw).size for n in (4, 5, 9, 12)}
    assert w[4][0] == w[5][0] == w[9][0] == w[12][0]  # wraps at 4 columns
    row_h = w[5][1] - w[4][1]
    assert row_h > 96
    assert w[9][1] - w[5][1] == row_h and w[12][1] == w[9][1]
    narrow = {n: _strip([red] * n, tmp_path, f"n{n}.png", thumb=96).size for n in (4, 5, 6)}
    pitch = narrow[5][0] - narrow[4][0]
    assert pitch > 96 and narrow[6][0] - narrow[5][0] == pitch  # one cell per image
    assert len({h for _, h in narrow.values()}) == 1
    assert _count(_strip([red] * 4, tmp_path, "r.png", thumb=96), (255, 0, 0)) >= 4 * 96 * 48 * 0.9


def test_strip_steps_title_and_attribution_add_room(images: list[Path], tmp_path: Path) -> None:
    red = [images[0]] * 5
    plain = _strip(red, tmp_path, "a.png", thumb=64)
    stepped = _strip(red, tmp_path, "b.png", thumb=64, steps=[0.5, 1.25, 2, 3.5])
    dressed = _strip(
        red, tmp_path, "c.png", thumb=64, title="A title", attribution="Emoji: someone, CC BY"
    )
    assert stepped.width > plain.width  # room for arrows and numbers
    assert dressed.height > plain.height and dressed.width == plain.width
    long_attr = "word " * 200  # an attribution is wrapped, never dropped
    tall = _strip(red, tmp_path, "d.png", thumb=64, attribution=long_attr)
    assert tall.height > dressed.height


def test_strip_credits_line_for_credited_images(images: list[Path], tmp_path: Path) -> None:
    red = [images[0]] * 3
    plain = _strip(red, tmp_path, "a.png", thumb=64)
    unknown = [{"label": "x", "credit": None, "rights": None}] * 3
    assert _strip(red, tmp_path, "b.png", thumb=64, provenance=unknown).size == plain.size
    credited = [{"label": f"<b>{i}</b>", "credit": "Gift of \u202e<script>" + "x" * 300,
                 "rights": "https://creativecommons.org/licenses/by/4.0/"} for i in range(3)]
    credited[1] = {"label": "two", "credit": "Museum", "rights": None}
    shown = _strip(red, tmp_path, "c.png", thumb=64, provenance=credited)
    assert shown.width == plain.width  # the line is cut to fit, never widens the strip
    assert 0 < shown.height - plain.height <= 3 * 20  # at most two short lines
    with pytest.raises(ValueError):
        path_strip_png(red, ["a"] * 3, tmp_path / "d.png", provenance=credited[:1])


def test_strip_images_and_placeholders(images: list[Path], tmp_path: Path) -> None:
    im = _strip(images, tmp_path, "all.png", thumb=64, steps=[1, 2, 3, 4])
    assert _count(im, (255, 0, 0)) >= 64 * 32 * 0.9  # letterboxed, not stretched
    assert _count(im, (0, 0, 255)) >= 64 * 32 * 0.8
    assert _count(im, (0, 200, 0)) >= 20 * 20 * 0.8
    assert _count(im, PLACEHOLDER, tol=2) >= 2 * 64 * 64 * 0.7  # corrupt + missing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.png", "src"]  # no tmp left


@pytest.mark.parametrize("bitmap", [False, True])
def test_strip_survives_hostile_labels(
    images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bitmap: bool
) -> None:
    if bitmap:  # Pillow without FreeType: the latin-1 bitmap font
        monkeypatch.setattr(render, "get_font", lambda size: ImageFont.load_default_imagefont())
    weird = tmp_path / os.fsdecode(b"caf\xe9 <script>.png")
    Image.new("RGB", (8, 8), (9, 9, 9)).save(weird, format="PNG")
    paths = [images[0]] * (len(HOSTILE) - 1) + [weird]
    out = path_strip_png(
        paths,
        HOSTILE,
        tmp_path / "hostile.png",
        thumb=48,
        steps=[float("nan"), float("inf"), -1e-9, 1e12, 0, 2, 3][: len(HOSTILE) - 1],
        title=HOSTILE[0] + HOSTILE[2] + HOSTILE[3],
        attribution=HOSTILE[4] + " " + HOSTILE[5],
        max_per_row=3,
    )
    with Image.open(out) as im:
        im.load()
        assert im.format == "PNG" and im.width > 0


def test_safe_text_replaces_what_the_font_lacks() -> None:
    font = render.get_font(14)
    text = render.safe_text("a\u202eb\x00c\udce9 \U000e0001\U0010fffd", font)
    assert "\u202e" not in text and "\x00" not in text and "\udce9" not in text
    assert text.startswith("ab c")
    assert "\U0010fffd" not in text
    bitmap = ImageFont.load_default_imagefont()
    assert render.safe_text("caf\u00e9 \u65e5 \u00c5", bitmap) == "caf\u00e9 ? \u00c5"
    assert render.fit_text("x" * 500, font, 60).endswith("\u2026")
    assert render.get_font(14).getlength(render.fit_text("x" * 500, font, 60)) <= 60


def test_strip_rejects_mismatched_inputs(images: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        path_strip_png(images[:2], ["a"], tmp_path / "x.png")
    with pytest.raises(ValueError):
        path_strip_png(images[:2], ["a", "b"], tmp_path / "x.png", steps=[1, 2])
    with pytest.raises(ValueError):
        path_strip_png([], [], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_strip_markdown(images: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "a[b]_(c)*.png"
    Image.effect_noise((300, 300), 80).convert("RGB").save(src)
    raw = src.read_bytes()
    md = strip_markdown(src)
    assert md == f"![a\\[b\\]\\_\\(c\\)\\*](data:image/png;base64,{base64.b64encode(raw).decode()})"
    small = strip_markdown(src, max_bytes=len(raw) // 4)
    data = base64.b64decode(small.split("base64,", 1)[1].rstrip(")"))
    assert len(data) <= len(raw) // 4
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.width < 300


@pytest.mark.parametrize("n", [2, 5, 12, 30])
def test_fitted_strip_wraps_into_rows_that_fit(images: list[Path], n: int) -> None:
    red = images[0]
    png = render.fit_strip_png([red] * n, [f"image {i}" for i in range(n)], 940, 600,
                               steps=[0.5] * (n - 1), title="a -> b", attribution="credit")
    with Image.open(io.BytesIO(png)) as im:
        width, height = im.size
        reds = _count(im.convert("RGB"), (255, 0, 0))
    assert width <= 940 and height <= 600, (n, width, height)
    assert reds > n * 48 * 24 * 0.9, "every image is drawn"
    if n == 12:  # the largest thumbnails that fit: 5 a row would be 1,018 px wide
        assert render.strip_layout(n, 128, True, 4)[2] <= 940 < render.strip_layout(
            n, 128, True, 5)[2]
        assert height > 3 * 128  # three rows of four
    if n == 2:
        assert height < 2 * 128, "a short chain stays one row"


def test_fitted_strip_too_long_to_fit_is_as_small_as_it_gets(images: list[Path]) -> None:
    png = render.fit_strip_png([images[0]] * 80, ["x"] * 80, 940, 600, steps=[0.1] * 79)
    with Image.open(io.BytesIO(png)) as im:
        assert im.width <= 940 and im.height > 600  # the smallest thumbnails: it scrolls


def test_the_font_is_matplotlibs_dejavu_even_while_matplotlib_is_hidden(monkeypatch) -> None:
    import sys

    from xdeg_pipeline.core.pictures import render

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as igraph_import hides it
    render._font_files.cache_clear()  # looked up now, while it is hidden
    first = render._font_files()[0]
    assert first.endswith("DejaVuSans.ttf") and "mpl-data" in first
