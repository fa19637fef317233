"""The metadata charts: a line of points and a log-scale histogram, drawn with Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from xdeg_pipeline.core.pictures import charts


def _pixels(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (charts.WIDTH, charts.HEIGHT)
    return np.asarray(img.convert("RGB"))


def _is_line(pixel: np.ndarray) -> bool:
    return bool(np.abs(pixel.astype(int) - charts.LINE).max() < 40)


def _bar_top(px: np.ndarray, x: int) -> int | None:
    """The highest row of the bar colour in column x, or None."""
    rows = [y for y in range(charts.TOP, charts.HEIGHT - charts.BOTTOM) if _is_line(px[y, x])]
    return min(rows) if rows else None


def test_linear_ticks_are_round_numbers_inside_the_range() -> None:
    assert charts.linear_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.linear_ticks(1, 40, 8) == [10, 20, 30, 40]
    assert charts.linear_ticks(3, 3) == [3]


def test_histogram_bars_stand_where_counts_are_and_grow_with_them() -> None:
    counts = [0, 1, 10, 1000, 0, 5]
    px = _pixels(charts.histogram(counts, xlabel="degree", ylabel="images"))
    axes = charts._Axes((-0.5, len(counts) - 0.5), (-0.3, 4.0), log_y=True)
    tops = {v: _bar_top(px, int(axes.px(v, 1)[0])) for v in range(len(counts))}
    assert tops[0] is None and tops[4] is None  # no bar for an empty value
    assert None not in (tops[1], tops[2], tops[3], tops[5])
    assert tops[3] < tops[2] < tops[5] < tops[1]  # log scale: 1000 > 10 > 5 > 1
    # the log scale: 10 stands as far above 1 as 1000 above 100 would (one decade)
    decade = axes.px(0, 10)[1] - axes.px(0, 100)[1]
    assert abs((tops[1] - tops[2]) - decade) <= 2


def test_line_chart_marks_each_point_at_its_value() -> None:
    ys = [0.1, 0.5, 0.9]
    px = _pixels(charts.line_chart(ys, xlabel="components", ylabel="variance", ylim=(0, 1)))
    axes = charts._Axes((0.5, 3.5), (0, 1), log_y=False)
    for i, y in enumerate(ys):
        x, row = (int(round(c)) for c in axes.px(i + 1, y))
        assert _is_line(px[row, x])
    x, row = (int(round(c)) for c in axes.px(1, 0.9))
    assert not _is_line(px[row, x])  # nothing drawn where no point is


def test_empty_and_missing_values_still_give_a_chart() -> None:
    assert _pixels(charts.histogram([], xlabel="degree", ylabel="images")).shape[0] > 0
    assert _pixels(charts.line_chart([], xlabel="c", ylabel="v", ylim=(0, 1))).shape[0] > 0
    px = _pixels(charts.line_chart([0.2, float("nan"), 0.8], xlabel="c", ylabel="v"))
    axes = charts._Axes((0.5, 3.5), (0.2, 0.8), log_y=False)
    x, row = (int(round(c)) for c in axes.px(3, 0.8))
    assert _is_line(px[row, x])  # the scale comes from the finite values
