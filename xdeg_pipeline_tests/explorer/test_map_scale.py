"""The map of a larger collection (``helpers.scale_home``): every image a point at once from one
binary answer, thumbnails only once zoomed in, and then only the atlas sheets of what is on
screen (``python -m benchmarks.explorer_scale`` measures it at 100,000 images and more)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from xdeg_pipeline_tests.helpers.live_server import running_explorer
from xdeg_pipeline_tests.helpers.scale_home import build_scale_home

N = 4000  # enough that the whole map is points; four atlas sheets


@pytest.fixture(scope="module")
def scale_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_scale_home(tmp_path_factory.mktemp("scale"), N, k=5)


def test_every_point_drawn_then_thumbnails_of_what_is_on_screen(scale_home: dict,
                                                                 browser) -> None:
    errors: list[str] = []
    with running_explorer(scale_home["home"], scale_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        sheets: list[str] = []
        page.on("request", lambda r: sheets.append(r.url) if "/atlas/" in r.url else None)
        page.goto(f"{base}/", wait_until="load")
        canvas = page.locator("#map")
        expect(canvas).to_have_attribute("data-painted", "1", timeout=30_000)
        assert canvas.get_attribute("data-points") == str(N)
        assert canvas.get_attribute("data-mode") == "points"
        assert canvas.get_attribute("data-drawn") == str(N)  # every image, at once
        assert not sheets  # no thumbnail fetched for a map of points

        u, v = page.evaluate("() => [xdegMap.u[0], xdegMap.v[0]]")
        page.evaluate("async ([u, v]) => { xdegMap.zoomTo(u, v, xdegMap.view.scale * 16);"
                      " await xdegMap.settled(); }", [u, v])
        assert canvas.get_attribute("data-mode") == "thumbnails"
        assert int(canvas.get_attribute("data-thumbs")) > 0
        assert canvas.get_attribute("data-missing") == "0"
        assert 0 < len(set(sheets)) < scale_home["sheets"]  # only the sheets on screen

        asked: list[str] = []  # sheets packed otherwise than the map: one thumbnail each
        page.on("request", lambda r: asked.append(r.url) if "/api/map/thumb" in r.url else None)
        page.evaluate("""async ([u, v]) => { const m = xdegMap;
            for (let i = 0; i < m.points.n; i++) m.sheet[i] = i;
            m.urls = new Map([...Array(m.points.n).keys()].map((i) => [i, "x"]));
            const base = m.view.scale / 16;
            for (let f = 1; f < 64 && !m.single; f *= 1.25) { m.zoomTo(u, v, base * f); m.draw(); }
            await m.settled(); }""", [u, v])
        assert canvas.get_attribute("data-mode") == "thumbnails" and 0 < len(asked) <= 300

        x, y = page.evaluate("() => xdegMap.screenOf(0)")  # a click picks the image under it
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        expect(page.locator("#source")).to_have_attribute("data-name", scale_home["names"][0],
                                                          timeout=10_000)
    assert not errors, errors


def test_a_chain_is_drawn_from_the_points_of_its_images(scale_home: dict, browser) -> None:
    a, b = scale_home["names"][0], scale_home["names"][N - 1]
    with running_explorer(scale_home["home"], scale_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/?source={a}&target={b}", wait_until="load")
        expect(page.locator("ol.chain .item").first).to_be_visible(timeout=30_000)
        count = page.locator("ol.chain .item").count()
        expect(page.locator(f"#map[data-chain='{count}']")).to_have_count(1, timeout=10_000)


def test_the_scale_home_packs_atlas_sheets_by_region(scale_home: dict) -> None:
    import pandas as pd

    from xdeg_pipeline.core.storage.layout import Layout

    layout = Layout(Path(scale_home["home"]))
    index = pd.read_parquet(layout.atlas_index)
    assert len(index) == N and index["sheet"].nunique() == scale_home["sheets"] == 4
