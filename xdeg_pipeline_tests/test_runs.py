"""The data folder's Dagster instance: xdeg's defaults added to its dagster.yaml, a user's kept."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import DagsterInstance

from xdeg_pipeline.runs import instance_defaults, instance_folder


def _config(folder: Path) -> dict:
    return yaml.safe_load((folder / "dagster.yaml").read_text())


def test_a_new_instance_gets_no_telemetry_and_a_queue_that_looks_every_second(
        tmp_path: Path) -> None:
    folder = instance_folder(tmp_path / "dagster")
    assert _config(folder) == instance_defaults(folder)
    with DagsterInstance.from_config(str(folder)) as instance:
        assert instance.run_coordinator.dequeue_interval_seconds == 1
    instance_folder(folder)  # again: nothing added twice
    assert _config(folder) == instance_defaults(folder)


def test_a_users_settings_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(
        "# mine\nrun_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\ntelemetry:\n  enabled: true\n")
    instance_folder(folder)
    config = _config(folder)
    assert config["telemetry"] == {"enabled": True} and "run_queue" not in config
    assert (folder / "dagster.yaml").read_text().startswith("# mine\n")
    (folder / "dagster.yaml").write_text("run_queue:\n  max_concurrent_runs: 2\n")
    instance_folder(folder)
    assert _config(folder) == {"run_queue": {"max_concurrent_runs": 2},
                               "telemetry": {"enabled": False},
                               "storage": instance_defaults(folder)["storage"]}
    for chosen in ("storage:\n  sqlite:\n    base_dir: /srv/dagster\n",
                   "event_log_storage:\n  module: m\n  class: C\n"):
        (folder / "dagster.yaml").write_text(chosen)
        instance_folder(folder)
        assert "custom" not in (folder / "dagster.yaml").read_text()  # the user's storage
