"""The Dagster UI really works: `dagster dev` loads the code location from workspace.yaml, and
headless Chromium opens the asset graph, launches a materialisation and sees it succeed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
ASSET_KEYS = ("raw_images", "image_features", "pca_features", "knn_edges", "similarity_graph",
              "requested_paths")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


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


def _wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written in {timeout} s"
        time.sleep(2)


def _dismiss_community_dialog(page) -> None:
    """Dagster's first-visit 'join the community' dialog covers the page: skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=8_000)
        skip.click()
    except PlaywrightTimeout:
        pass


def test_dagster_ui_materialises_the_pipeline(xdeg_env: dict[str, Path], tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (`apt-get install chromium`)"
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(xdeg_env["dagster_home"]), "PYTHONUNBUFFERED": "1"}
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
            _wait_file(xdeg_env["home"] / "similarity_graph.pkl", timeout=300)
            page.goto(f"{base}/runs", wait_until="load")
            status = page.get_by_text("Success", exact=True).first
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                if status.is_visible():
                    break
                failed = page.get_by_text("Failure", exact=True).first
                assert not failed.is_visible(), (tmp_path / "dagster_dev.log").read_text()[-3000:]
                time.sleep(3)
                page.reload(wait_until="load")
            expect(status).to_be_visible(timeout=5_000)
            page.screenshot(path=str(shot / "ui_run_success.png"))
            browser.close()
        assert (xdeg_env["home"] / "similarity_graph.pkl").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
