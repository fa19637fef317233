"""The Dagster UI really works: `dagster dev` loads the code location from workspace.yaml, and
headless Chromium opens the asset graph, launches a materialisation and sees it succeed; then
the CLI's path run (as `xdeg demo` makes it) shows in the UI legibly: the chain's strip and map
seen whole at 1,280 and 1,600 px, its check Passed, each feature shard its own figures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.runs import instance_config, open_instance, run_paths
from xdeg_pipeline_tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[1]
#: Window sizes the metadata pictures must be seen whole at (width, height).
WINDOWS = ((1280, 800), (1600, 900))
#: A chain of 12 images (10 intermediate): too long for one row in the UI's dialog.
PAIR, PATH_OPTIONS = ("more/img_000.png", "shapes/img_013.png"), {"mode": "steps", "steps": 10}
ASSET_KEYS = ("raw_images", "image_features", "pca_features", "knn_edges", "similarity_graph",
              "requested_paths")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


def _wait_backfill_finished(settings: Settings, timeout: float, log: Path) -> None:
    """Wait until the instance records the launched backfill as finished (its run done and
    the backfill daemon's next tick seen); it must have succeeded."""
    from dagster import DagsterRunStatus
    from dagster._core.execution.backfill import BulkActionStatus

    deadline = time.monotonic() + timeout
    while True:
        with open_instance(settings.layout) as instance:
            backfills = instance.get_backfills(limit=1)
            runs = instance.get_runs(limit=1)
        if runs and runs[0].status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            raise AssertionError(log.read_text()[-3000:])
        status = backfills[0].status if backfills else None
        if status in (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED):
            return
        assert status in (None, BulkActionStatus.REQUESTED), log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"the backfill did not finish in {timeout} s"
        time.sleep(1)


def _dismiss_community_dialog(page) -> None:
    """Dagster's first-visit 'join the community' dialog covers the page: skip it. It shows
    once per instance (Dagster remembers it was skipped), so only the first page waits."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=20_000)
        skip.click()
        expect(skip).to_have_count(0, timeout=10_000)
    except PlaywrightTimeout:
        pass


def _open(browser, url: str, size: tuple[int, int]):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url, wait_until="load")
    return page


def _metadata_row(page, key: str):
    """The row of the metadata table whose key starts with ``key``."""
    row = page.locator("tr").filter(has=page.get_by_text(re.compile(f"^{key}"))).first
    expect(row).to_be_visible(timeout=60_000)
    return row


def _picture_seen_whole(page, key: str, size: tuple[int, int]) -> None:
    """Open the metadata entry ``key`` ("Show Markdown"): its picture is drawn at its own size
    and lies inside the dialog and the window, nothing cut off or scrolled away."""
    _metadata_row(page, key).get_by_text("Show Markdown").click()
    dialog = page.get_by_role("dialog").first
    img = dialog.locator("img").first
    expect(img).to_be_visible(timeout=30_000)
    natural = img.evaluate("e => [e.naturalWidth, e.naturalHeight, e.clientWidth, e.clientHeight]")
    assert natural[0] == natural[2] and natural[1] == natural[3], natural
    box, frame = img.bounding_box(), dialog.bounding_box()
    assert box["x"] >= frame["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= size[1], (key, box, size)
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= size[0], (frame, size)
    overflow = dialog.evaluate(  # no part of the picture is hidden behind a scroll bar
        "d => [...d.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflowX !== 'visible')")
    assert not overflow, key


def _requested_paths_legible(browser, base: str, shot: Path) -> None:
    """requested_paths after the CLI's path run: its check reads Passed, and the strip of a
    12-image chain and its map are seen whole at each window size (screenshots in ``shot``)."""
    for size in WINDOWS:
        page = _open(browser, f"{base}/assets/requested_paths", size)
        _picture_seen_whole(page, "strip_", size)
        page.screenshot(path=str(shot / f"ui-requested-paths-{size[0]}.png"))
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_have_count(0)
        _picture_seen_whole(page, "map_", size)
        page.close()
    page = _open(browser, f"{base}/assets/requested_paths?view=checks", WINDOWS[0])
    expect(page.get_by_text("requested_endpoints_exist").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Passed", exact=True)).to_be_visible(timeout=30_000)  # its latest
    page.close()


def _shards_have_their_own_figures(browser, base: str, settings: Settings) -> None:
    """Two image_features partitions with different images show their own counts."""
    from dagster import AssetKey, AssetRecordsFilter

    images = {}
    with open_instance(settings.layout) as instance:
        for shard in "0123456789abcdef":
            [record] = instance.fetch_materializations(AssetRecordsFilter(
                asset_key=AssetKey("image_features"), asset_partitions=[shard]), limit=1).records
            meta = record.asset_materialization.metadata
            images[shard] = meta["shard_images"].value
            assert meta["run_images_computed"].value == 24  # the run's total, named so
    few, many = min(images, key=images.get), max(images, key=images.get)
    assert images[few] < images[many] and sum(images.values()) == 24
    for shard in (few, many):
        page = _open(browser, f"{base}/assets/image_features?view=partitions&partition={shard}",
                     WINDOWS[1])
        row = page.locator("tr").filter(has=page.get_by_text("shard_images", exact=True)).first
        expect(row.locator("td").nth(1)).to_have_text(str(images[shard]), timeout=60_000)
        page.close()


def test_dagster_ui_materialises_the_pipeline(xdeg_env: dict[str, Path], tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (`apt-get install chromium`)"
    port = _free_port()
    settings = Settings.from_env()
    # the data folder's own instance, as `make ui` opens it: the CLI's runs show there too
    dagster_home = instance_config(settings.layout)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "dagster_dev.log", "w")
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    shot = Path(os.environ.get("XDEG_UI_SCREENSHOT_DIR", tmp_path))
    try:
        _wait_http(f"{base}/server_info", timeout=180)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/assets", wait_until="load")
            _dismiss_community_dialog(page)
            for key in ASSET_KEYS:
                expect(page.get_by_text(key, exact=True).first).to_be_visible(timeout=60_000)
            page.goto(f"{base}/locations/xdeg/jobs/build", wait_until="load")
            for group in ("ingest", "features"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=60_000)
            page.screenshot(path=str(shot / "ui_asset_graph.png"))
            page.get_by_role("button", name="Materialize all").first.click()
            # image_features is partitioned (16 shards): the launch dialog asks which shards
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="All", exact=True).click()
            expect(dialog.get_by_text("16 partitions", exact=False).first).to_be_visible(
                timeout=30_000
            )
            page.screenshot(path=str(shot / "ui_launch_backfill.png"))
            dialog.get_by_role("button", name="Launch backfill").click()
            expect(page.get_by_text("backfill", exact=False).first).to_be_visible(timeout=30_000)
            _wait_backfill_finished(settings, timeout=300, log=tmp_path / "dagster_dev.log")
            page.goto(f"{base}/runs", wait_until="load")
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(shot / "ui_run_success.png"))
            _shards_have_their_own_figures(browser, base, settings)
            browser.close()
        run = run_paths(settings, [PAIR], PATH_OPTIONS)  # what `xdeg demo` runs (no event loop)
        assert [e.passed for e in run.get_asset_check_evaluations()] == [True]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            _requested_paths_legible(browser, base, shot)
            browser.close()
        assert (xdeg_env["home"] / "similarity_graph.pkl").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
