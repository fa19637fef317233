"""One really built collection for all explorer tests (the build takes a while)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xdeg_pipeline_tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from xdeg_pipeline_tests.helpers.credited_home import build_credited_home
from xdeg_pipeline_tests.helpers.explorer_home import build_explorer_home
from xdeg_pipeline_tests.helpers.image_server import ImageServer


@pytest.fixture(scope="session")
def explorer_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_explorer_home(tmp_path_factory.mktemp("explorer"))


@pytest.fixture(scope="session")
def credited_home(tmp_path_factory: pytest.TempPathFactory):
    """A URL-manifest collection with labels, links, credits and rights, built once; its
    server (images and object pages) runs for the whole session."""
    with ImageServer() as server:
        yield build_credited_home(tmp_path_factory.mktemp("credited"), server)


@pytest.fixture
def browser():
    """Debian's headless Chromium through playwright, closed after the test."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (`apt-get install chromium`)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
