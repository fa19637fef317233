"""Progress reporting that works in Dagster logs and as a CLI progress bar."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

ProgressFn = Callable[[int, int], None]


def progress_reporter(
    desc: str, log: Callable[[str], None] | None = None, every: float = 0.1
) -> ProgressFn:
    """A ``progress(done, total)`` callback.

    Logs a line through ``log`` at each ``every`` fraction of the work, and draws a tqdm bar on
    stderr when ``XDEG_PROGRESS_BAR=1`` (the CLI sets it) or stderr is a terminal.
    """
    state = {"next": 0.0, "bar": None, "t0": time.perf_counter()}
    want_bar = os.environ.get("XDEG_PROGRESS_BAR") == "1" or (
        sys.stderr.isatty() and os.environ.get("XDEG_PROGRESS_BAR") != "0"
    )

    def report(done: int, total: int) -> None:
        if want_bar:
            if state["bar"] is None:
                from tqdm import tqdm

                state["bar"] = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=True)
            bar = state["bar"]
            bar.total = total
            bar.update(done - bar.n)
            if done >= total:
                bar.close()
        if log is None or total <= 0:
            return
        frac = done / total
        if frac >= state["next"] or done >= total:
            rate = done / max(time.perf_counter() - state["t0"], 1e-9)
            log(f"{desc}: {done}/{total} ({frac:.0%}, {rate:.1f}/s)")
            state["next"] = min(1.0, frac + every)

    return report
