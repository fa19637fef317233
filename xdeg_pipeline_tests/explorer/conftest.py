"""One really built collection for all explorer tests (the build takes a while)."""

from __future__ import annotations

import pytest

from xdeg_pipeline_tests.helpers.explorer_home import build_explorer_home


@pytest.fixture(scope="session")
def explorer_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_explorer_home(tmp_path_factory.mktemp("explorer"))
