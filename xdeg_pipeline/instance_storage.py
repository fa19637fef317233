"""The Dagster instance's storage: Dagster's own SQLite storage (the same files, tables and
folders as ``storage: sqlite``), with each database's connections kept open.

Dagster's SQLite storage makes a new engine and connection for every read and every event it
writes: a build of a few images stores about 110 events and reads as many times. Adding 40
images to 4,000 (``xdeg build``, 4 paired runs), the run's time less its stages went from
1.83-2.24 s to 1.26-1.34 s. Here each database keeps its engine
(SQLAlchemy's pool) for the life of the process: run-sharded event databases the last
:data:`SHARDS_KEPT` used, the index and the run database always. A process forked from one
that held them starts with none (SQLite connections do not cross a fork), and wiping the event
log closes them before its files go.

``dagster.yaml`` names it with its folder, as Dagster's ``storage: sqlite`` does
(:func:`xdeg_pipeline.runs.instance_folder` writes this where the file names no storage, and
points it at the folder again when the folder has moved)::

    storage:
      custom:
        module: xdeg_pipeline.instance_storage
        class: XdegSqliteStorage
        config:
          base_dir: /path/to/data/dagster

Without ``base_dir`` it is ``$DAGSTER_HOME``. A ``base_dir`` that is gone while
``$DAGSTER_HOME`` names another folder (a data folder moved, then opened by ``dagster dev``
before any ``xdeg build``) is said in one line rather than made anew.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Field, StringSource
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

SHARDS_KEPT = 8  # run databases whose engine stays open (a run writes to one at a time)


def _engine(conn_string: str) -> Engine:
    """A pooled engine on one SQLite file, waiting for a lock as Dagster's own does."""
    return create_engine(conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})


class _Engines:
    """Engines by connection string for one process, the least recently used closed first."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep
        self._pid = os.getpid()
        self._open: OrderedDict[str, Engine] = OrderedDict()

    def get(self, conn_string: str) -> Engine:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours to use
            self._pid, self._open = os.getpid(), OrderedDict()
        engine = self._open.get(conn_string)
        if engine is None:
            engine = self._open[conn_string] = _engine(conn_string)
        self._open.move_to_end(conn_string)
        while self.keep is not None and len(self._open) > self.keep:
            self._open.popitem(last=False)[1].dispose()
        return engine

    def close(self) -> None:
        if self._pid == os.getpid():
            for engine in self._open.values():
                engine.dispose()
        self._open = OrderedDict()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, each shard's engine kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines(keep=SHARDS_KEPT + 1)  # + the index shard
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            engine = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def wipe(self) -> None:
        with self._db_lock:
            self._engines.close()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._engines.close()
        super().dispose()


class PooledSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage, its engine kept open."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines()
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self) -> Iterator:
        with self._engines.get(self._conn_string).connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self._engines.close()
        super().dispose()


class XdegSqliteStorage(DagsterSqliteStorage):
    """``storage: sqlite`` with pooled connections; ``base_dir`` defaults to
    ``$DAGSTER_HOME``."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: dict) -> XdegSqliteStorage:
        home = os.environ.get("DAGSTER_HOME")
        base_dir = config_value.get("base_dir") or home
        if not base_dir:
            raise DagsterInvariantViolationError(
                "xdeg's instance storage has no folder: set DAGSTER_HOME, or base_dir under "
                "storage: custom: config: in dagster.yaml")
        base_dir = os.path.abspath(base_dir)
        if home and not os.path.isdir(base_dir) and base_dir != os.path.abspath(home):
            raise DagsterInvariantViolationError(
                f"dagster.yaml keeps the run history in {base_dir}, which does not exist (was "
                f"the folder moved?): run `xdeg build --home <data folder>` once, or set "
                f"base_dir to {os.path.abspath(home)}")
        return cls.from_local(base_dir, inst_data=inst_data)


def storage_config(base_dir: str | None = None) -> dict:
    """The ``storage`` entry of ``dagster.yaml`` that names this storage."""
    custom: dict = {"module": __name__, "class": XdegSqliteStorage.__name__}
    if base_dir is not None:
        custom["config"] = {"base_dir": str(base_dir)}
    return {"custom": custom}


def is_ours(config: dict) -> bool:
    """Whether a ``dagster.yaml`` mapping's storage is this one."""
    custom = (config.get("storage") or {}).get("custom") or {}
    return custom.get("module") == __name__
