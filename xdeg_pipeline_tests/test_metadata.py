"""Asset metadata: inline plots are drawn once per data and reused from the data folder."""

from __future__ import annotations

from pathlib import Path

from xdeg_pipeline.assets import metadata


def test_plots_are_reused_while_their_data_is_the_same(tmp_path: Path) -> None:
    drawn: list[int] = []

    def draw(ax) -> None:
        drawn.append(1)
        ax.plot([0, 1], [0, 1])

    first = metadata.plot(draw, "a plot", [1, 2, 3], tmp_path)
    again = metadata.plot(draw, "a plot", [1, 2, 3], tmp_path)
    assert len(drawn) == 1 and again.value == first.value
    assert "data:image/png;base64," in first.value
    other = metadata.plot(draw, "a plot", [1, 2, 4], tmp_path)  # new data: drawn again
    assert len(drawn) == 2 and other.value != "" and len(list(tmp_path.glob("plot-*"))) == 1
    (tmp_path / "plot-a_plot.md").write_text("garbage")  # a damaged cache: drawn again
    metadata.plot(draw, "a plot", [1, 2, 4], tmp_path)
    assert len(drawn) == 3
    metadata.plot(draw, "a plot", [1, 2, 4])  # no cache folder: always drawn
    assert len(drawn) == 4
    hist = metadata.degree_histogram([0, 3, 5], tmp_path)
    assert hist.value == metadata.degree_histogram([0, 3, 5], tmp_path).value
