"""The xdeg resource: the same settings as core.settings, every one settable from the
launchpad (run config), bound to $XDEG_* variables so the UI shows where a value comes from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import EnvVar, asset, materialize

from xdeg_pipeline.core.settings import BY_FIELD, SETTINGS, Settings
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.resources import XdegResource, fields
from xdeg_pipeline_tests.helpers.glibc import GLIBC, env_without_malloc

SEEN: list[Settings] = []


@asset
def probe(xdeg: XdegResource) -> None:
    """Records the settings a run sees."""
    SEEN.append(xdeg.settings())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.setenv("XDEG_HOME", str(tmp_path / "home"))
    SEEN.clear()
    return tmp_path


def test_every_run_setting_is_a_described_field() -> None:
    assert set(fields()) == {s.field for s in SETTINGS} - {"refresh_cron"}  # the schedule's
    for name in fields():
        info = XdegResource.model_fields[name]
        assert BY_FIELD[name].env in info.description and info.default is None


def test_unset_fields_fall_back_to_the_environment(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDEG_CHECKPOINT_EVERY", "8")
    monkeypatch.setenv("XDEG_IMAGES", str(clean_env / "imgs"))
    s = XdegResource(k=5).settings()
    assert (s.checkpoint_every, s.k, s.images_root) == (8, 5, clean_env / "imgs")
    assert s.home == clean_env / "home"
    # an images_dir field keeps $XDEG_MANIFEST from applying; a manifest field wins
    monkeypatch.setenv("XDEG_MANIFEST", str(clean_env / "art.csv"))
    assert XdegResource().settings().manifest == clean_env / "art.csv"
    assert XdegResource(images_dir=str(clean_env / "f")).settings().manifest is None


def test_settings_round_trip(clean_env: Path) -> None:
    s = Settings.from_env(
        home=clean_env / "h", manifest=clean_env / "m.csv", url_column="link", device="cpu",
        batch_size=4, num_workers=0, pca_components=0, k=9, checkpoint_every=16,
        combined_features=False, download_workers=2, download_timeout=0.5,
        download_total_timeout=3.0, download_retries=0, download_max_mb=1.5,
        download_retry_hours=2.0, progress="lines",
    )
    assert XdegResource.from_settings(s).settings() == s
    folder = Settings.from_env(home=clean_env / "h", images_dir=clean_env / "imgs")
    assert XdegResource.from_settings(folder).settings() == folder
    default = Settings.from_env()  # the OpenMoji default stays the default
    assert XdegResource.from_settings(default).settings() == default


def test_handed_over_settings_read_no_variable(clean_env: Path, monkeypatch) -> None:
    s = Settings.from_env()
    monkeypatch.setenv("XDEG_IMAGES", str(clean_env / "elsewhere"))
    monkeypatch.setenv("XDEG_K", "3")
    assert XdegResource.from_settings(s).settings() == s
    assert XdegResource().settings().k == 3


def test_every_setting_can_be_given_in_run_config(clean_env: Path) -> None:
    config = {"checkpoint_every": 7, "download_timeout": 0.25, "combined_features": False,
              "device": "cpu", "home": str(clean_env / "launchpad"), "k": 11,
              "download_retry_hours": 0.5, "progress": "off"}
    result = materialize([probe], resources={"xdeg": XdegResource()},
                         run_config={"resources": {"xdeg": {"config": config}}})
    assert result.success
    (s,) = SEEN
    assert (s.checkpoint_every, s.download_timeout, s.combined_features, s.device, s.k) == (
        7, 0.25, False, "cpu", 11)
    assert s.home == clean_env / "launchpad" and s.download_retry_hours == 0.5
    build = defs.resolve_job_def("build")
    schema = build.run_config_schema.config_type.fields["resources"].config_type
    xdeg_config = schema.fields["xdeg"].config_type.fields["config"].config_type
    assert set(xdeg_config.fields) == {*fields(), "read_environment"}


def test_from_env_binds_the_variables_that_are_set(clean_env: Path, monkeypatch) -> None:
    env = {"XDEG_HOME": str(clean_env / "bound"), "XDEG_BATCH_SIZE": "4",
           "XDEG_DOWNLOAD_TIMEOUT": "0.5", "XDEG_COMBINED_FEATURES": "0"}
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    resource = XdegResource.from_env()
    assert isinstance(resource.home, EnvVar) and resource.home.env_var_name == "XDEG_HOME"
    assert resource.download_timeout == 0.5 and resource.combined_features is False
    assert resource.device is None  # not set: falls back when the run starts
    assert materialize([probe], resources={"xdeg": resource}).success
    (s,) = SEEN
    assert (s.home, s.batch_size, s.download_timeout, s.combined_features) == (
        clean_env / "bound", 4, 0.5, False)
    monkeypatch.setenv("XDEG_BATCH_SIZE", "lots")
    with pytest.raises(ValueError, match="XDEG_BATCH_SIZE"):
        XdegResource.from_env()


_TUNING = """
from dagster import asset, build_init_resource_context, materialize
from xdeg_pipeline.core import allocator, collector
from xdeg_pipeline.resources import XdegResource

resource = XdegResource(read_environment=False)
resource.setup_for_execution(build_init_resource_context())  # a sensor's: no run
print(allocator._outcome, collector._at_exit)

@asset
def probe(xdeg: XdegResource) -> None:
    pass

materialize([probe], resources={"xdeg": resource})
print(allocator._outcome, collector._at_exit)
"""


def test_a_run_tunes_malloc_for_a_build_and_a_sensor_does_not(tmp_path: Path) -> None:
    """core/allocator.py: the process of a run (the CLI's, a Dagster run's, a step's) reuses
    freed memory; the code server's, where sensors run, keeps glibc's defaults. The same for
    every object frozen at exit, without Python's last collections (core/collector.py)."""
    out = subprocess.run([sys.executable, "-c", _TUNING],
                         env=env_without_malloc(DAGSTER_HOME=str(tmp_path)),
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", "False", "tuned" if GLIBC else "unavailable", "True"]
