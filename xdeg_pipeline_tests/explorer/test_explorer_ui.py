"""The explorer in a real browser (headless Chromium through Playwright, as the Dagster UI test
drives it): pick a source and a target by searching, follow the chain, switch to steps, avoid
an image, see the chain on the map, share the URL; and the first paint of a 10,000-image map."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect, sync_playwright

from xdeg_pipeline_tests.helpers.live_server import running_explorer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
SOURCE, TARGET = "more/img_000.png", "shapes/img_013.png"


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("XDEG_UI_SCREENSHOT_DIR", tmp_path))


@pytest.fixture
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (`apt-get install chromium`)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _chain(page) -> list[str]:
    return page.locator("ol.chain[data-alternative='0'] .item").evaluate_all(
        "items => items.map(i => i.dataset.name)")


def _pick(page, query: str, name: str) -> None:
    page.fill("#search", query)
    button = page.locator(f"#gallery button[data-name='{name}']")
    expect(button).to_be_visible(timeout=15_000)
    button.click()


def test_explorer_in_a_browser(explorer_home: dict, browser, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    errors: list[str] = []
    with running_explorer(explorer_home["home"], explorer_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/", wait_until="load")
        expect(page.locator("#map[data-painted='1']")).to_have_count(1, timeout=30_000)

        _pick(page, "img 000", SOURCE)  # search picks the source ...
        _pick(page, "img 013", TARGET)  # ... and the target
        expect(page.locator("ol.chain .item").first).to_be_visible(timeout=30_000)
        chain = _chain(page)
        assert chain[0] == SOURCE and chain[-1] == TARGET and len(chain) >= 2
        expect(page.locator(f"#map[data-chain='{len(chain)}']")).to_have_count(1)
        page.screenshot(path=str(shots / "explorer_chain.png"))

        page.locator("#mode label", has_text="steps").click()  # steps, X = 5 -> 7 images
        page.locator("#steps").fill("3")
        expect(page.locator("ol.chain[data-alternative='0'] .item")).to_have_count(5,
                                                                                   timeout=30_000)
        page.locator("#steps").fill("5")
        items = page.locator("ol.chain[data-alternative='0'] .item")
        expect(items).to_have_count(7, timeout=30_000)
        steps_chain = _chain(page)
        assert steps_chain[0] == SOURCE and steps_chain[-1] == TARGET
        expect(page.locator("#map[data-chain='7']")).to_have_count(1)

        avoided = steps_chain[3]  # click an intermediate image: avoid it and re-route
        items.nth(3).click()  # (by position: names may hold quotes and backslashes)
        expect(page.locator("#avoid .chip")).to_have_count(1, timeout=10_000)
        page.wait_for_function(
            "n => ![...document.querySelectorAll('ol.chain .item')].some(i => i.dataset.name === n)"
            " && document.querySelectorAll('ol.chain .item').length === 7", arg=avoided,
            timeout=30_000)
        rerouted = _chain(page)
        assert avoided not in rerouted and rerouted[0] == SOURCE and rerouted[-1] == TARGET
        page.locator("#map-chain").click()
        page.wait_for_timeout(300)
        page.locator("#map").screenshot(path=str(shots / "explorer_map_chain.png"))
        page.screenshot(path=str(shots / "explorer_steps_avoid.png"))

        shared = page.url  # the URL holds the request
        assert "avoid=" in shared and "steps=5" in shared
        other = browser.new_page(viewport={"width": 1400, "height": 900})
        other.goto(shared, wait_until="load")
        expect(other.locator("ol.chain[data-alternative='0'] .item")).to_have_count(7,
                                                                                    timeout=30_000)
        assert _chain(other) == rerouted
        expect(other.locator("#map[data-chain='7']")).to_have_count(1, timeout=30_000)

        page.locator("#pick label", has_text="waypoint").click()  # a waypoint
        page.fill("#search", "img 001")
        expect(page.locator("#gallery button[data-name='shapes/img_001.png']")).to_be_visible(
            timeout=15_000)
        page.locator("#gallery button[data-name='shapes/img_001.png']").click()
        expect(page.locator("#via .chip")).to_have_count(1, timeout=10_000)
        page.wait_for_function("() => [...document.querySelectorAll('ol.chain .item')]"
                               ".some(i => i.dataset.name === 'shapes/img_001.png')",
                               timeout=30_000)
        assert "via=shapes%2Fimg_001.png" in page.url
        page.locator("#via .chip button").click()
        expect(page.locator("ol.chain .item")).to_have_count(7, timeout=30_000)

        before = page.url
        page.locator("#random").click()  # a random pair (another pair: 1 in 756 to be the same)
        page.wait_for_function(
            "p => location.search !== p && new URLSearchParams(location.search).get('target')",
            arg="?" + urlparse(before).query, timeout=30_000)
        expect(page.locator("ol.chain .item").first).to_be_visible(timeout=30_000)
        assert page.locator("#export-gif").get_attribute("href").startswith("/api/export?")

        page.fill("#search", "onerror")  # hostile names are shown as text, never run
        hostile = page.locator("#gallery button").filter(has_text="onerror")
        expect(hostile).to_have_count(1, timeout=10_000)
        expect(page.locator("#gallery button")).to_have_count(1)
        page.locator("#pick label", has_text="source").click()
        hostile.click()
        expect(page.locator("ol.chain .item").first).to_have_attribute(
            "data-name", "hostile/<img src=x onerror=window.__xss=2>.png", timeout=30_000)
        page.fill("#search", "script")
        script = page.locator("#gallery button").filter(has_text="<script>")
        expect(script).to_have_count(1, timeout=10_000)
        page.fill("#search", "svg onload")
        expect(page.locator("#gallery button").filter(has_text="<svg")).to_have_count(1)
        page.locator("#map").hover()  # the map's tooltip shows names as text as well
        assert page.evaluate("window.__xss") is None
    assert not errors, errors
