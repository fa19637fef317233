"""The explorer in a real browser: clicking a step's distance shows both images with their
similarity maps and a sentence with the distance and the ranks."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from xdeg_pipeline_tests.helpers.live_server import running_explorer

SOURCE, TARGET = "more/img_000.png", "shapes/img_013.png"




def test_clicking_a_step_explains_it(explorer_home: dict, browser, tmp_path: Path) -> None:
    errors: list[str] = []
    with running_explorer(explorer_home["home"], explorer_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/?source={SOURCE}&target={TARGET}", wait_until="load")
        step = page.locator("ol.chain[data-alternative='0'] li.step").first
        expect(step).to_be_visible(timeout=30_000)
        first, second = page.locator("ol.chain[data-alternative='0'] .item").evaluate_all(
            "items => items.slice(0, 2).map(i => i.dataset.name)")
        distance = step.inner_text().split()[-1]
        step.click()
        dialog = page.locator("#explain")
        expect(dialog).to_be_visible()
        text = page.locator("#explain-text")
        expect(text).to_contain_text("nearest neighbour", timeout=30_000)
        expect(text).to_contain_text(f"distance {distance}")
        assert first in text.inner_text() and second in text.inner_text()
        img = page.locator("#explain-img")
        expect(img).to_be_visible()
        page.wait_for_function("() => document.getElementById('explain-img').naturalWidth > 0",
                               timeout=30_000)
        assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [456, 224]
        page.screenshot(path=str(tmp_path / "explain.png"))
        page.click("#explain-close")
        expect(dialog).to_be_hidden()
    assert not errors
