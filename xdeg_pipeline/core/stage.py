"""The stage runner: what every stage of the pipeline repeats, done once (no Dagster).

A stage is a :class:`Stage`: a name (its state file, ``<home>/state/<name>.json``), a
``compute`` function from :class:`StageInputs` to an :class:`Outcome`, what its input
fingerprint is made of, the files that must exist for its outputs to be reused, and the lock
it runs under. :meth:`StageRunner.run`:

1. takes the lock (``build``: the data folder's; ``shard-<p>``: one shard's; None: none);
2. reads the states of the upstream stages and its own previous state;
3. computes the input fingerprint: the upstream stages' output fingerprints, then ``params``
   (or an explicit ``fingerprint``);
4. checks the outputs the previous state recorded (``outputs``: size, mtime, hash;
   :mod:`.storage.integrity`) by ``stat``: a damaged one is moved to ``<home>/damaged/``,
   said in one warning line, and the stage recomputes;
5. if the previous state has that input fingerprint and every output file exists, reuses it
   (one log line) and returns that state;
6. else calls ``compute``, writes each of the outcome's ``writes`` atomically (a DataFrame as
   parquet, bytes, text, or a ``writer(tmp_path)`` callable that may stream), records each
   file written, then the state (input and output fingerprints, the outcome's state, the
   records, the seconds it took): a state never describes outputs that are not in place.

``always=True`` stages compute on every run: those whose output fingerprint comes from content
(the scan of the collection, the combination of the feature shards) and those driven by
config (requested paths). The result carries the state (what metadata is made of, also when
reused), whether it was reused, the seconds and the run's own ``facts`` (counts of this run,
never recorded).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from xdeg_pipeline.core.progress import ProgressFn
from xdeg_pipeline.core.storage.atomic import (
    build_lock,
    write_bytes,
    write_parquet,
    write_text,
    write_with,
)
from xdeg_pipeline.core.storage.faults import DataFolderFault, describe_os_error
from xdeg_pipeline.core.storage.integrity import cheap_damage, record, relative, set_aside
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import fingerprint, read_state, write_state

LogFn = Callable[[str], None]
Writer = Callable[[Path], object]
Output = pd.DataFrame | bytes | str | Writer


def _no_log(_: str) -> None:
    return None


def _no_progress(_: str) -> ProgressFn | None:
    return None


@dataclass(frozen=True)
class Reporter:
    """Where a stage tells what it does: info lines, warnings (a rejected file...), and a
    progress callback per named step (None: not reported)."""

    info: LogFn = _no_log
    warn: LogFn = _no_log
    progress: Callable[[str], ProgressFn | None] = _no_progress


QUIET = Reporter()


@dataclass(frozen=True)
class StageInputs:
    """What ``compute`` gets: the data folder, the input fingerprint, the upstream stages'
    states, this stage's previous state and the log."""

    layout: Layout
    fingerprint: str | None
    upstream: dict[str, dict[str, Any]]
    previous: dict[str, Any]
    log: LogFn
    warn: LogFn = _no_log


@dataclass
class Outcome:
    """What ``compute`` returns: state to record, outputs to write, the output fingerprint
    (default: the input fingerprint) and facts of this run only."""

    state: dict[str, Any] = field(default_factory=dict)
    writes: dict[Path, Output] = field(default_factory=dict)
    output_fingerprint: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage: see the module docstring."""

    name: str
    compute: Callable[[StageInputs], Outcome]
    upstream: tuple[str, ...] = ()
    params: tuple[Any, ...] = ()
    fingerprint: str | None = None
    outputs: tuple[Path, ...] = ()
    always: bool = False
    lock: str | None = "build"
    log_reuse: bool = True
    repair: str = ""  # what recomputing a damaged output does (default: "recomputing <name>")


@dataclass(frozen=True)
class StageResult:
    """A stage's state after :meth:`StageRunner.run`, and how it got there."""

    name: str
    state: dict[str, Any]
    reused: bool
    seconds: float
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def output_fingerprint(self) -> str | None:
        return self.state.get("output_fingerprint")

    def get(self, key: str, default: Any = None) -> Any:
        """A fact of this run, else a field of the state."""
        return self.facts.get(key, self.state.get(key, default))


def write_output(path: Path, value: Output) -> Path:
    """Write one output atomically."""
    if isinstance(value, pd.DataFrame):
        return write_parquet(value, path)
    if isinstance(value, bytes):
        return write_bytes(value, path)
    if isinstance(value, str):
        return write_text(value, path)
    if callable(value):
        return write_with(path, value)
    raise TypeError(f"cannot write a {type(value).__name__} to {path}: give a writer callable")


def _write_naming(path: Path, value: Output) -> Path:
    """:func:`write_output`; an ``OSError`` without a file name gets ``path``'s."""
    try:
        return write_output(path, value)
    except OSError as exc:
        if exc.errno is not None and not (exc.filename or exc.filename2):
            exc.filename = str(path)
        raise


class StageRunner:
    """Runs stages on one data folder (see the module docstring)."""

    def __init__(self, layout: Layout, log: LogFn | None = None,
                 warn: LogFn | None = None) -> None:
        self.layout = layout
        self.log = log or _no_log
        self.warn = warn or self.log

    def state(self, name: str) -> dict[str, Any]:
        """The state a stage recorded ({} when none)."""
        return read_state(self.layout.home, name)

    @contextlib.contextmanager
    def lock(self, name: str | None = "build") -> Iterator[None]:
        """Hold a lock of the data folder (re-entrant; None: no lock)."""
        if name is None:
            yield
            return
        with build_lock(self.layout.home, name=name):
            yield

    @staticmethod
    def input_fingerprint(stage: Stage, upstream: dict[str, dict[str, Any]]) -> str | None:
        """The stage's explicit fingerprint, else that of its upstream output fingerprints and
        params (None for a stage with neither)."""
        if stage.fingerprint is not None:
            return stage.fingerprint
        if not stage.upstream and not stage.params:
            return None
        ups = [upstream[name].get("output_fingerprint") for name in stage.upstream]
        return fingerprint(*ups, *stage.params)

    @staticmethod
    def current(stage: Stage, fp: str | None, previous: dict[str, Any]) -> bool:
        """Whether the previous state was made from ``fp`` and its outputs are all there."""
        if stage.always or fp is None or previous.get("input_fingerprint") != fp:
            return False
        return all(Path(p).exists() for p in stage.outputs)

    def reusable(self, stage: Stage) -> dict[str, Any] | None:
        """The stage's state when its outputs are current and undamaged (a look, without its
        lock: nothing is moved)."""
        upstream = {name: self.state(name) for name in stage.upstream}
        previous = self.state(stage.name)
        fp = self.input_fingerprint(stage, upstream)
        if not self.current(stage, fp, previous) or self._damage(previous):
            return None
        return previous

    def _damage(self, previous: dict[str, Any]) -> dict[Path, str]:
        """The recorded outputs that no longer match their records (by ``stat``)."""
        home, out = self.layout.home, {}
        for name, rec in previous.get("outputs", {}).items():
            path = home / name if not Path(name).is_absolute() else Path(name)
            reason = cheap_damage(path, rec)
            if reason is not None:
                out[path] = reason
        return out

    def set_aside_damaged(self, stage: Stage, previous: dict[str, Any]) -> bool:
        """Move the damaged outputs of the previous state aside, one warning line each;
        whether there were any."""
        damaged = self._damage(previous)
        action = stage.repair or f"recomputing {stage.name}"
        for path, reason in damaged.items():
            self.warn(set_aside(self.layout.home, path, stage.name, reason, action))
        return bool(damaged)

    def _records(self, previous: dict[str, Any], written: list[Path]) -> dict[str, Any]:
        """The records of this run's files, and those of earlier runs still in place."""
        home = self.layout.home
        kept = {name: {**rec, "mtime_ns": (home / name).stat().st_mtime_ns}
                for name, rec in previous.get("outputs", {}).items()
                if (home / name).is_file() and cheap_damage(home / name, rec) is None}
        return {**kept, **{relative(home, p): record(p) for p in written if p.is_file()}}

    def _retime(self, stage: Stage, previous: dict[str, Any]) -> None:
        """Outputs whose time changed but not their bytes (a copy without ``-p``): record the
        new times, so the next run needs no hash again."""
        home = self.layout.home
        outputs = previous.get("outputs", {})
        if any((home / n).stat().st_mtime_ns != r.get("mtime_ns") for n, r in outputs.items()):
            write_state(home, stage.name, {**previous, "outputs": self._records(previous, [])})

    def run(self, stage: Stage) -> StageResult:
        """Reuse the stage's outputs when current, else compute and write them."""
        with self.lock(stage.lock):
            t0 = time.perf_counter()
            upstream = {name: self.state(name) for name in stage.upstream}
            previous = self.state(stage.name)
            fp = self.input_fingerprint(stage, upstream)
            damaged = self.set_aside_damaged(stage, previous)
            if not damaged and self.current(stage, fp, previous):
                if stage.log_reuse:
                    what = " and ".join(stage.upstream) or "its inputs"
                    self.log(f"{what} unchanged: reusing {stage.name}")
                self._retime(stage, previous)
                return StageResult(stage.name, previous, True, time.perf_counter() - t0)
            doing = f"computing {stage.name}"
            try:
                outcome = stage.compute(StageInputs(self.layout, fp, upstream, previous,
                                                    self.log, self.warn))
                doing = f"writing {stage.name}"
                written = [_write_naming(Path(p), value) for p, value in outcome.writes.items()]
                state = dict(outcome.state)
                state["outputs"] = self._records(previous, written)
            except OSError as exc:
                if exc.errno is None:  # raised by xdeg itself, with its own sentence
                    raise
                if not (exc.filename or exc.filename2):
                    exc.filename = str(self.layout.home)
                raise DataFolderFault(describe_os_error(exc, doing)) from exc
            seconds = time.perf_counter() - t0
            if fp is not None:
                state["input_fingerprint"] = fp
            state["output_fingerprint"] = outcome.output_fingerprint or fp
            state["seconds"] = round(seconds, 3)
            try:
                write_state(self.layout.home, stage.name, state)
            except OSError as exc:
                raise DataFolderFault(describe_os_error(exc, f"recording {stage.name}")) from exc
            return StageResult(stage.name, state, False, seconds, dict(outcome.facts))


def run_stage(stage: Stage, layout: Layout, report: Reporter | None = None) -> StageResult:
    """Run one stage on a data folder, its lines logged through ``report``."""
    report = report or QUIET
    return StageRunner(layout, report.info, report.warn).run(stage)
