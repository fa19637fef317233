"""The weights' file id: hashed once a process, hashed again when the file changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from xdeg_pipeline.core.features import spec


def test_a_weights_file_is_hashed_once_until_it_changes(tmp_path: Path, monkeypatch) -> None:
    hashed = []
    real = hashlib.sha256

    def counting() -> object:
        hashed.append(1)
        return real()

    monkeypatch.setattr(spec.hashlib, "sha256", counting)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"a" * 1000)
    first = spec._file_id(weights)
    assert first == real(b"a" * 1000).hexdigest()[:12]
    assert spec._file_id(weights) == first and len(hashed) == 1
    st = weights.stat()
    weights.write_bytes(b"b" * 1000)  # the same size, its times put back: the inode's ctime moves
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert spec._file_id(weights) == real(b"b" * 1000).hexdigest()[:12] and len(hashed) == 2
