"""The explorer in a real browser (headless Chromium through Playwright, as the Dagster UI test
drives it): pick a source and a target by searching, follow the chain, switch to steps, avoid
an image, see the chain on the map, share the URL; credits and links; filters (the first paint
of a 10,000-image map is measured by ``python -m benchmarks.map_paint``)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from xdeg_pipeline_tests.helpers.live_server import running_explorer

SOURCE, TARGET = "more/img_000.png", "shapes/img_013.png"


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("XDEG_UI_SCREENSHOT_DIR", tmp_path))




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

        page.locator("#pick label", has_text="target").click()  # a known target: the random
        drawn = parse_qs(urlparse(page.url).query)["source"][0]  # pair may have drawn the
        query, known = ("img 013", TARGET) if drawn != TARGET else ("img 000", SOURCE)  # hostile
        _pick(page, query, known)  # image itself, or the target as its source (1 in 28)
        expect(page.locator("ol.chain .item").last).to_have_attribute("data-name", known,
                                                                      timeout=30_000)
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


def test_chain_images_link_their_object_pages_and_credits_are_text(
    credited_home: dict, browser, tmp_path: Path
) -> None:
    expected = credited_home["expected"]
    errors: list[str] = []
    with running_explorer(credited_home["home"], credited_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/?source=art00&target=art01&mode=steps&steps=4", wait_until="load")
        items = page.locator("ol.chain[data-alternative='0'] .item")
        expect(items).to_have_count(6, timeout=30_000)
        chain = _chain(page)
        assert chain[0] == "art00.png" and chain[-1] == "art01.png"

        # an inner image with an object page: its label links there, in a new tab
        name = next(n for n in chain[1:-1] if expected[n]["link"])
        link = items.nth(chain.index(name)).locator("a.caption")
        assert link.get_attribute("href") == expected[name]["link"]
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener"
        with page.expect_popup() as popup_info:
            link.click()
        popup = popup_info.value
        popup.wait_for_load_state()
        assert popup.url == expected[name]["link"]
        assert popup.title() == f"Object {name[3:5].lstrip('0') or '0'}"
        popup.close()
        assert page.locator("#avoid .chip").count() == 0  # the click opened, did not avoid
        assert _chain(page) == chain

        # credit and rights under each image, the chain's credits under the strip
        first = items.nth(0)
        expect(first.locator(".credit")).to_have_text("Gift of Ada")
        expect(first.locator("a.rights")).to_have_text("CC BY 4.0")
        credits = page.locator("ol.chain[data-alternative='0'] + .chain-credits")
        expect(credits.locator("li")).to_have_count(len(chain))
        expect(credits).to_contain_text("<script>window.__xss=2</script> Anonymous gift")
        expect(items.nth(len(chain) - 1).locator(".credit")).to_have_text(
            "<script>window.__xss=2</script> Anonymous gift")
        hrefs = page.locator("#chains a").evaluate_all("as => as.map(a => a.href)")
        assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
        assert page.locator("#chains script, #chains b, #chains img:not([src^='/thumb/'])"
                            ).count() == 0
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(_shots(tmp_path) / "explorer_credits.png"))
    assert not errors, errors


def _gallery(page) -> list[str]:
    return page.locator("#gallery button").evaluate_all("bs => bs.map(b => b.dataset.name)")


def test_filters_in_a_browser(metadata_home: dict, browser, tmp_path: Path) -> None:
    """A filter narrows the gallery and dims the map; a chain asked with it stays inside it; an
    impossible filter shows the server's 422 message; a bad one its 400 message."""
    from xdeg_pipeline_tests.helpers.metadata_home import LONELY, year_of

    names = metadata_home["names"]
    early = {n for i, n in enumerate(names) if year_of(i) < 1700}
    errors: list[str] = []
    with running_explorer(metadata_home["home"], metadata_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/", wait_until="load")
        expect(page.locator("#map[data-painted='1']")).to_have_count(1, timeout=30_000)
        expect(page.locator("#gallery button")).to_have_count(min(len(names), 120), timeout=15_000)

        page.fill("#filter", "date<1700")
        page.locator("#filter").press("Enter")
        expect(page.locator("#filter-note")).to_contain_text(f"{len(early)} of {len(names)}",
                                                             timeout=15_000)
        expect(page.locator("#gallery button")).to_have_count(len(early), timeout=15_000)
        assert set(_gallery(page)) == early
        expect(page.locator(f"#map[data-inside='{len(early)}']")).to_have_count(1)
        page.fill("#search", "rembrandt")  # search inside the filter
        expect(page.locator("#gallery button")).to_have_count(
            sum(1 for i, n in enumerate(names) if n in early and i % 3 == 0
                and n not in metadata_home["lonely"]), timeout=15_000)
        page.fill("#search", "")
        expect(page.locator("#gallery button")).to_have_count(len(early), timeout=15_000)

        buttons = page.locator("#gallery button")  # the first and the last early image
        buttons.first.click()
        buttons.last.click()
        expect(page.locator("ol.chain .item").first).to_be_visible(timeout=30_000)
        chain = _chain(page)
        assert len(chain) >= 2 and set(chain) <= early, chain
        assert "where=date%3C1700" in page.url
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(_shots(tmp_path) / "explorer_filter.png"))
        shared = browser.new_page(viewport={"width": 1400, "height": 900})  # the link keeps it
        shared.goto(page.url, wait_until="load")
        expect(shared.locator("ol.chain[data-alternative='0'] .item")).to_have_count(
            len(chain), timeout=30_000)
        assert _chain(shared) == chain and shared.input_value("#filter") == "date<1700"
        expect(shared.locator("#gallery button")).to_have_count(len(early), timeout=15_000)
        expect(shared.locator(f"#map[data-inside='{len(early)}']")).to_have_count(1)
        shared.close()

        for _ in range(3):  # a random pair is drawn from inside the filter
            before = page.url
            page.locator("#random").click()
            page.wait_for_function("u => location.href !== u", arg=before, timeout=10_000)
            query = parse_qs(urlparse(page.url).query)
            assert {query["source"][0], query["target"][0]} <= early

        page.locator("#clear").click()
        page.fill("#filter", f"creator={LONELY}")
        page.locator("#filter-apply").click()
        expect(page.locator("#gallery button")).to_have_count(2, timeout=15_000)
        page.locator("#gallery button").first.click()
        page.locator("#gallery button").last.click()
        expect(page.locator("#message.error")).to_contain_text("no chain", timeout=30_000)
        expect(page.locator("#message")).to_contain_text("inside the filter")
        expect(page.locator("ol.chain .item")).to_have_count(0)

        page.fill("#filter", "date before 1700")  # unreadable: the filter in force stays
        page.locator("#filter").press("Enter")
        expect(page.locator("#filter-note.error")).to_contain_text("no operator")
        expect(page.locator("#gallery button")).to_have_count(2)
        page.locator("#filter-clear").click()
        expect(page.locator("#gallery button")).to_have_count(min(len(names), 120), timeout=15_000)
        expect(page.locator("#map[data-inside='all']")).to_have_count(1)
    assert not errors, errors


def test_a_shared_chain_stays_in_a_browser(explorer_home: dict, browser, tmp_path: Path
                                           ) -> None:
    """A link pins its chain (issue 21): the page shows the shared chain while it holds, says
    when a better one exists today (and shows it on request), and says when it no longer holds."""
    from urllib.parse import urlencode

    from xdeg_pipeline.core.query import Collection, PathRequest

    collection = Collection(explorer_home["home"], explorer_home["images"])
    best, other = collection.find(PathRequest(SOURCE, TARGET, alternatives=2))
    pin = collection.find(PathRequest(SOURCE, TARGET, chain=tuple(other.path)))[0].pin
    errors: list[str] = []
    with running_explorer(explorer_home["home"], explorer_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        query = urlencode([("source", SOURCE), ("target", TARGET)]
                          + [("chain", n) for n in other.path])
        page.goto(f"{base}/?{query}", wait_until="load")
        expect(page.locator("#pin-note")).to_be_visible(timeout=30_000)
        assert _chain(page) == other.path
        assert parse_qs(urlparse(page.url).query)["chain"] == other.path
        page.screenshot(path=str(_shots(tmp_path) / "explorer_pinned_chain.png"))
        if pin["better"] is not None:
            expect(page.locator("#pin-note")).to_contain_text("A better one exists")
            page.locator("#pin-better").click()
            page.wait_for_function("n => document.querySelectorAll("
                                   "\"ol.chain[data-alternative='0'] .item\").length === n",
                                   arg=len(best.path), timeout=30_000)
            expect(page.locator("#pin-note")).to_have_count(0)
            assert _chain(page) == best.path
            assert parse_qs(urlparse(page.url).query)["chain"] == best.path
        else:
            expect(page.locator("#pin-note")).to_contain_text("still holds")
        broken = urlencode([("source", SOURCE), ("target", TARGET), ("chain", SOURCE),
                            ("chain", "nowhere_x.png"), ("chain", TARGET)])
        page.goto(f"{base}/?{broken}", wait_until="load")
        expect(page.locator("#pin-note")).to_contain_text("no longer possible", timeout=30_000)
        assert _chain(page) == best.path
    assert not errors, errors


def test_the_page_says_when_the_chain_shown_before_changed(explorer_home: dict, browser,
                                                           tmp_path: Path) -> None:
    """A pair the explorer answered before (paths/explorer_chains.parquet) whose old chain no
    longer holds: the page shows today's chain and says, as text, that and why it changed;
    asked again it is the chain answered before and nothing is said."""
    import shutil
    from urllib.parse import urlencode

    import pandas as pd

    from xdeg_pipeline.core.query import Collection, PathRequest, chain_id
    from xdeg_pipeline.core.storage.layout import Layout

    home = tmp_path / "home"
    shutil.copytree(explorer_home["home"], home)
    layout = Layout(home)
    best = Collection(home, explorer_home["images"]).find(PathRequest(SOURCE, TARGET))[0]
    layout.paths_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"chain_id": [chain_id(PathRequest(SOURCE, TARGET))],
                  "path": [[SOURCE, "gone_<b>.png", TARGET]]}).to_parquet(layout.explorer_chains)
    errors: list[str] = []
    with running_explorer(home, explorer_home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/?{urlencode([('source', SOURCE), ('target', TARGET)])}",
                  wait_until="load")
        note = page.locator("#earlier-note")
        expect(note).to_contain_text("changed: an image of the earlier chain is no longer in "
                                     "the collection", timeout=30_000)
        assert _chain(page) == best.path
        page.goto(f"{base}/?{urlencode([('source', SOURCE), ('target', TARGET)])}",
                  wait_until="load")
        page.wait_for_function("n => document.querySelectorAll("
                               "\"ol.chain[data-alternative='0'] .item\").length === n",
                               arg=len(best.path), timeout=30_000)
        expect(page.locator("#earlier-note")).to_have_count(0)
    assert not errors, errors
