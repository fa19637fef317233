"""The chains people have seen, answered again: a chain stays put until a truly better one
appears (issue 21).

Two tables of ``{chain id: image names}``, each written by one writer, read by both:
``paths/answered_chains.parquet`` (``requested_paths``, what the Dagster UI shows) and
``paths/explorer_chains.parquet`` (this explorer: the first chain of every request it
answered, the latest :data:`LIMIT`). A request found in either gets the chain answered before
while it holds and today's is not truly better (:meth:`Collection.find`'s ``earlier``); the
pipeline's table comes first, so the explorer shows what ``requested_paths`` showed. The
explorer's table is written atomically by a writer thread, at most every :data:`FLUSH_DELAY`
seconds while answers change (a request never waits for it), and once more when the server
stops; a data folder it cannot write to (read-only, full) is said once in the log and the
chains are kept in memory.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.query import PathRequest, chain_id
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages.paths import answered_chains
from xdeg_pipeline.core.storage.atomic import write_parquet
from xdeg_pipeline.core.storage.integrity import stat_signature

log = logging.getLogger("xdeg.explorer")
LIMIT = 10_000  # requests the explorer remembers (the latest; ~0.5 MB of parquet, 25 ms)
FLUSH_DELAY = 0.5  # seconds between two writes of the explorer's table


class _OwnTable:
    """The explorer's own answers and their file: the writer's half (no reference back to
    :class:`AnsweredChains`, so a finaliser can flush it)."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()  # one write at a time: a later table never loses
        self.chains: OrderedDict[str, list[str]] = OrderedDict(
            answered_chains(path, _reporter()))
        self.dirty = False
        self.unwritable = False
        self.writer: threading.Thread | None = None

    def put(self, key: str, names: list[str]) -> None:
        with self.lock:
            changed = self.chains.get(key) != names
            self.chains[key] = names
            self.chains.move_to_end(key)
            while len(self.chains) > self.limit:
                self.chains.popitem(last=False)
            if changed and not self.unwritable:
                self.dirty = True
                if self.writer is None:
                    self.writer = threading.Thread(target=self._write_soon, daemon=True,
                                                   name="xdeg-explorer-answers")
                    self.writer.start()

    def _write_soon(self) -> None:
        while True:
            time.sleep(FLUSH_DELAY)
            with self.lock:
                if not self.dirty or self.unwritable:
                    self.writer = None
                    return
            self.flush()

    def flush(self) -> None:
        """Write the table now if it changed since the last write."""
        with self.write_lock:
            with self.lock:
                if not self.dirty or self.unwritable:
                    return
                self.dirty = False
                table = pd.DataFrame({"chain_id": list(self.chains),
                                      "path": list(self.chains.values())})
            try:
                self.path.parent.mkdir(exist_ok=True)  # paths/, never a vanished data folder
                write_parquet(table, self.path)
            except OSError as exc:
                with self.lock:
                    self.unwritable = True
                log.warning("explorer: cannot write %s (%s); the chains it answers are kept "
                            "in memory until it stops", self.path, exc)


def _reporter() -> Reporter:
    return Reporter(warn=lambda m: log.warning("explorer: %s", m))


class AnsweredChains:
    """The chains answered before, for the explorer: :meth:`earlier` to ask, :meth:`record`
    to remember today's answer, :meth:`flush` to write what is not written yet. Thread-safe;
    one per server (it outlives a reload)."""

    def __init__(self, pipeline_file: Path, own_file: Path, limit: int = LIMIT) -> None:
        self.pipeline_file = Path(pipeline_file)
        self._lock = threading.Lock()
        self._pipeline_sig: tuple | None = None
        self._pipeline: dict[str, list[str]] = {}
        self._own = _OwnTable(Path(own_file), limit)
        weakref.finalize(self, self._own.flush)  # at exit, or when the server lets go of it

    def earlier(self, request: PathRequest) -> list[str]:
        """The chain answered before for ``request`` (image names; [] when none): the
        pipeline's (re-read when its table changes), else the explorer's own."""
        key = chain_id(request)
        with self._lock:
            sig = stat_signature(self.pipeline_file)
            if sig != self._pipeline_sig:
                self._pipeline_sig = sig
                self._pipeline = ({} if sig is None
                                  else answered_chains(self.pipeline_file, _reporter()))
            found = self._pipeline.get(key)
        if found:
            return list(found)
        with self._own.lock:
            return list(self._own.chains.get(key) or [])

    def record(self, request: PathRequest, names: Sequence[str]) -> None:
        """Remember ``names`` as the chain answered for ``request`` (a pinned request is
        answered by its link, not remembered); the writer thread writes it soon."""
        if not request.chain:
            self._own.put(chain_id(request), [str(n) for n in names])

    def flush(self) -> None:
        """Write the explorer's table now if it changed (the server's shutdown, tests)."""
        self._own.flush()
