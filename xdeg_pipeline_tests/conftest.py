"""Shared fixtures: an isolated data folder with a small generated collection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xdeg_pipeline_tests.helpers.collections import make_collection

os.environ.setdefault("XDEG_PROGRESS_BAR", "0")


@pytest.fixture
def xdeg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """XDEG_HOME, XDEG_IMAGES and DAGSTER_HOME in tmp_path, with a 24-image collection."""
    home = tmp_path / "home"
    images = tmp_path / "images"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").touch()
    make_collection(images, 24)
    monkeypatch.setenv("XDEG_HOME", str(home))
    monkeypatch.setenv("XDEG_IMAGES", str(images))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.delenv("XDEG_BACKBONE", raising=False)
    return {"home": home, "images": images, "dagster_home": dagster_home}


@pytest.fixture(scope="session")
def metadata_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small synthetic data folder whose images carry label, creator, date, collection and
    JSON metadata (helpers/metadata_home.py); built once, in seconds."""
    from xdeg_pipeline_tests.helpers.metadata_home import build_metadata_home

    return build_metadata_home(tmp_path_factory.mktemp("metadata"))
