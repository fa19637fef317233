"""Checks that read data reuse their outcome while what they read is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from xdeg_pipeline.core.stages.checks import memoised
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import write_state


def test_outcome_reused_until_a_state_or_a_file_changes(tmp_path: Path) -> None:
    files = Layout(tmp_path)
    data = tmp_path / "table.parquet"
    data.write_bytes(b"x" * 10)
    write_state(tmp_path, "knn_edges", {"output_fingerprint": "a"})
    calls: list[int] = []

    def compute():
        calls.append(1)
        return len(calls) == 1, {"calls": len(calls)}

    def run():
        return memoised(files, "demo", ("knn_edges",), [data], compute)

    assert run() == (True, {"calls": 1})
    assert run() == (True, {"calls": 1}) and len(calls) == 1  # reused
    write_state(tmp_path, "knn_edges", {"output_fingerprint": "b"})
    assert run() == (False, {"calls": 2})  # the stage's output changed
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert run() == (False, {"calls": 3})  # the file was rewritten
    files.state_file("check.demo").write_text("{broken")
    assert run() == (False, {"calls": 4})  # an unreadable record: computed again
    data.unlink()
    assert run() == (False, {"calls": 5})  # a file gone
