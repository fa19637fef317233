"""xdeg's Dagster storage: Dagster's SQLite files, read and written as before, with each
database's connections kept open (and let go where they must be)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, asset, materialize
from dagster._core.errors import DagsterInvariantViolationError

from xdeg_pipeline import instance_storage
from xdeg_pipeline.instance_storage import (
    SHARDS_KEPT,
    PooledSqliteEventLogStorage,
    PooledSqliteRunStorage,
    XdegSqliteStorage,
    storage_config,
)
from xdeg_pipeline.runs import instance_folder, open_instance


@asset
def counted() -> int:
    return 1


def _materialise(instance: DagsterInstance, times: int = 1) -> list[str]:
    return [materialize([counted], instance=instance).run_id for _ in range(times)]


def test_a_data_folders_instance_uses_it_and_its_history_reads_as_plain_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = instance_folder(tmp_path / "dagster")
    assert yaml.safe_load((folder / "dagster.yaml").read_text())["storage"] == {"custom": {
        "module": "xdeg_pipeline.instance_storage", "class": "XdegSqliteStorage",
        "config": {"base_dir": str(folder)}}}
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # not this folder's
    with open_instance(_layout(tmp_path)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        run_ids = _materialise(instance, 2)
    assert not (tmp_path / "elsewhere").exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"sqlite": {
        "base_dir": str(folder)}}}))
    with DagsterInstance.from_config(str(plain)) as instance:  # Dagster's own storage
        assert {r.run_id for r in instance.get_runs()} == set(run_ids)
        event = instance.get_latest_materialization_event(AssetKey("counted"))
        assert event is not None and event.run_id == run_ids[-1]
        assert len(instance.all_logs(run_ids[0])) > 5


def test_a_moved_data_folder_keeps_its_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with open_instance(_layout(tmp_path / "old")) as instance:
        run_ids = _materialise(instance)
    (tmp_path / "old").rename(tmp_path / "new")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "new" / "dagster"))
    with pytest.raises(DagsterInvariantViolationError, match="does not exist .was the folder"):
        DagsterInstance.get()  # `dagster dev` before any build: said, not made anew
    assert not (tmp_path / "old").exists()
    with open_instance(_layout(tmp_path / "new")) as instance:  # the CLI points it there
        assert [r.run_id for r in instance.get_runs()] == run_ids
    with DagsterInstance.get() as instance:
        assert [r.run_id for r in instance.get_runs()] == run_ids


def _layout(tmp_path: Path):
    from xdeg_pipeline.core.settings import Settings

    return Settings.from_env({}, home=tmp_path, images_dir=tmp_path / "images").layout


def test_without_a_folder_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(DagsterInvariantViolationError, match="set DAGSTER_HOME"):
        XdegSqliteStorage.from_config_value(None, {})


def test_without_base_dir_it_is_dagster_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage_config()}))
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        _materialise(instance)
    assert list((folder / "history" / "runs").glob("*-*.db"))


def test_engines_are_kept_per_shard_up_to_the_limit_and_let_go_on_wipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = instance_storage._engine
    monkeypatch.setattr(instance_storage, "_engine", lambda s: made.append(s) or real(s))
    instance = open_instance(_layout(tmp_path))
    events = instance.event_log_storage
    try:
        ids = _materialise(instance, SHARDS_KEPT + 3)
        kept = list(events._engines._open)
        assert len(kept) == SHARDS_KEPT + 1 and any(s.endswith("index.db") for s in kept)
        shards = [s for s in made if s.endswith("-0.db") or "/runs/" in s and "index" not in s]
        assert len(shards) == len(set(shards)) == len(ids)  # one engine per run, reused
        events.wipe()  # its files go: no engine may write to them afterwards
        assert [s for s in events._engines._open if not s.endswith("index.db")] == []
        assert not list((tmp_path / "dagster" / "history" / "runs").glob("*-*.db"))
        again = _materialise(instance)
        assert len(instance.all_logs(again[0])) > 5
    finally:
        instance.dispose()
    assert not events._engines._open


def test_a_forked_process_opens_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engines = instance_storage._Engines()
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = engines.get(url)
    assert engines.get(url) is first
    monkeypatch.setattr(instance_storage.os, "getpid", lambda: -1)
    assert engines.get(url) is not first
