"""Asset metadata: inline charts are drawn once per data and reused from the data folder."""

from __future__ import annotations

from pathlib import Path

from xdeg_pipeline.assets import metadata
from xdeg_pipeline.core.pictures import charts


def test_plots_are_reused_while_their_data_is_the_same(tmp_path: Path) -> None:
    drawn: list[int] = []

    def draw() -> bytes:
        drawn.append(1)
        return charts.line_chart([0, 1], xlabel="x", ylabel="y")

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


def test_each_shard_gets_its_own_figures_and_the_run_its_totals() -> None:
    import pandas as pd

    from xdeg_pipeline.core.stage import StageResult

    shards = pd.DataFrame([("0", 5, 2, 3, 0), ("a", 7, 0, 6, 1)],
                          columns=["shard", "images", "computed", "reused", "failed"])
    figures = metadata.shard_figures(shards)
    assert figures == {
        "0": {"shard_images": 5, "shard_images_computed": 2, "shard_images_reused": 3,
              "shard_images_failed": 0},
        "a": {"shard_images": 7, "shard_images_computed": 0, "shard_images_reused": 6,
              "shard_images_failed": 1},
    }
    result = StageResult("image_features", {}, False, 1.0, {"images_computed": 2})
    assert metadata.run_totals(result, "images_computed") == {"run_images_computed": 2}


def test_strips_are_inline_pictures_by_chain() -> None:
    from PIL import Image

    from xdeg_pipeline.core.pictures.render import png_bytes

    png = png_bytes(Image.new("RGB", (4, 4)))
    out = metadata.strips({"abc-0": png})
    assert list(out) == ["strip_abc-0"]
    assert out["strip_abc-0"].value.startswith("![strip abc\\-0](data:image/png;base64,")
