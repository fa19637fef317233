"""Progress of a stage: lines in the Dagster log, and on the terminal a bar (or, when output
goes to a file or a pipe, a line now and then)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import IO

ProgressFn = Callable[[int, int], None]
SHOW_MODES = ("bar", "lines", "off")


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether a bar can be drawn on ``stream`` (stderr by default)."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_reporter(
    desc: str,
    log: Callable[[str], None] | None = None,
    *,
    show: str = "off",
    every: float = 0.1,
    interval: float = 30.0,
    stream: IO[str] | None = None,
) -> ProgressFn:
    """A ``progress(done, total)`` callback.

    ``log`` gets a line at each ``every`` fraction of the work. ``show`` says what the person
    running it sees on ``stream`` (stderr): ``bar`` a tqdm bar, ``lines`` the same lines as the
    log, and at least one per ``interval`` seconds, ``off`` nothing.
    """
    if show not in SHOW_MODES:
        raise ValueError(f"show must be one of {SHOW_MODES}, got {show!r}")
    t0 = time.perf_counter()
    state: dict = {"next": 0.0, "bar": None, "printed": t0, "last": None}

    def line(done: int, total: int) -> str:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        return f"{desc}: {done}/{total} ({done / total:.0%}, {rate:.1f}/s)"

    def report(done: int, total: int) -> None:
        out = sys.stderr if stream is None else stream
        if show == "bar":
            _draw(state, desc, done, total, out)
        if total <= 0 or (done, total) == state["last"]:
            return
        state["last"] = (done, total)
        now = time.perf_counter()
        frac = done / total
        due = frac >= state["next"] or done >= total
        if due and log is not None:
            log(line(done, total))
        if show == "lines" and (due or now - state["printed"] >= interval):
            print(line(done, total), file=out, flush=True)
            state["printed"] = now
        if due:
            state["next"] = min(1.0, frac + every)

    return report


def _draw(state: dict, desc: str, done: int, total: int, out: IO[str]) -> None:
    """Create, move or close the tqdm bar."""
    if state.get("closed"):
        return
    if state["bar"] is None:
        from tqdm import tqdm

        state["bar"] = tqdm(total=total, desc=desc, unit="img", file=out, leave=True,
                            dynamic_ncols=True)
    bar = state["bar"]
    bar.total = total
    bar.update(done - bar.n)
    if done >= total:
        bar.close()
        state["closed"] = True


class PartsProgress:
    """One progress over the parts of a stage (e.g. its shards). Part ``p`` counts for
    ``sizes[p]`` items until it reports ``(done, todo)`` over the items it really computes
    (the others are reused): then for ``todo``. So the total shrinks to the work done, and
    the rate is that of the computed items."""

    def __init__(self, report: ProgressFn | None, sizes: Mapping[str, int]) -> None:
        self.report = report
        self.sizes = dict(sizes)
        self.done: dict[str, int] = {p: 0 for p in self.sizes}

    def _show(self) -> None:
        total = sum(self.sizes.values())
        if self.report is not None and total:
            self.report(sum(self.done.values()), total)

    def start(self) -> None:
        """Show the progress at 0 before the first part begins."""
        self._show()

    def part(self, key: str) -> ProgressFn | None:
        """The callback of one part (None when nothing is reported)."""
        if self.report is None:
            return None

        def report(done: int, todo: int) -> None:
            self.sizes[key], self.done[key] = todo, done
            self._show()

        return report

    def finish(self, key: str) -> None:
        """Part ``key`` is complete (computed, reused or failed)."""
        self.done[key] = self.sizes[key]
        self._show()
