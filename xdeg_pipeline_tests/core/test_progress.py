"""Progress: log lines at each tenth, a bar or lines for the person running it, one progress
over the parts of a stage."""

from __future__ import annotations

import io

import pytest

from xdeg_pipeline.core.progress import PartsProgress, is_terminal, progress_reporter


def _run(report, total: int = 20) -> None:
    for done in range(total + 1):
        report(done, total)


def test_log_lines_at_each_tenth_and_the_end() -> None:
    logged: list[str] = []
    out = io.StringIO()
    _run(progress_reporter("features", logged.append, show="off", stream=out))
    assert len(logged) == 11 and out.getvalue() == ""
    assert logged[0].startswith("features: 0/20 (0%") and logged[-1].startswith("features: 20/20")


def test_lines_for_a_pipe_or_a_log_file() -> None:
    out = io.StringIO()
    _run(progress_reporter("scan", show="lines", stream=out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("scan: 20/20 (100%, ")
    often = io.StringIO()  # and at least one line per interval, between the tenths
    report = progress_reporter("scan", show="lines", interval=0.0, stream=often)
    for done in (0, 1, 2, 3):
        report(done, 1000)
    assert [line.split(" (")[0] for line in often.getvalue().splitlines()] == [
        "scan: 0/1000", "scan: 1/1000", "scan: 2/1000", "scan: 3/1000"]
    report(3, 1000)  # the same figures again print nothing
    assert len(often.getvalue().splitlines()) == 4


def test_bar_on_a_terminal() -> None:
    out = io.StringIO()
    _run(progress_reporter("features", show="bar", stream=out), total=50)
    text = out.getvalue()
    assert "features" in text and "50/50" in text and "\r" in text
    assert not is_terminal(out)
    with pytest.raises(ValueError, match="show must be one of"):
        progress_reporter("x", show="fancy")


def test_one_progress_over_the_parts_of_a_stage() -> None:
    seen: list[tuple[int, int]] = []
    parts = PartsProgress(lambda done, total: seen.append((done, total)), {"a": 10, "b": 6})
    parts.start()
    a = parts.part("a")
    a(0, 4)  # part a computes 4 of its 10 items (6 are reused)
    a(4, 4)
    parts.finish("a")
    b = parts.part("b")
    b(3, 6)
    parts.finish("b")
    assert seen == [(0, 16), (0, 10), (4, 10), (4, 10), (7, 10), (10, 10)]
    assert PartsProgress(None, {"a": 1}).part("a") is None
