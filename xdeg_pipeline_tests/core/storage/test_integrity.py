"""Records of written files: size, mtime, xxh3 hash; cheap and full checks; moving aside."""

from __future__ import annotations

import os
from pathlib import Path

from xdeg_pipeline.core.storage.integrity import (
    cheap_damage,
    file_hash,
    full_damage,
    move_aside,
    note_repair,
    record,
    repairs_since,
    set_aside,
)


def test_record_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100_000)
    rec = record(path)
    assert rec["size"] == 100_000 and rec["hash"] == file_hash(path)
    assert cheap_damage(path, rec) is None and full_damage(path, rec) is None
    stat = path.stat()
    path.write_bytes(b"x" * 50_000 + b"y" + b"x" * 49_999)  # bit rot: same size...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and same time
    assert cheap_damage(path, rec) is None  # not seen by stat
    assert "bit rot" in full_damage(path, rec)
    path.write_bytes(b"short")
    assert cheap_damage(path, rec) == "5 bytes instead of the 100,000 bytes written"
    path.unlink()
    assert cheap_damage(path, rec) == "missing"


def test_move_aside_keeps_every_copy_and_notes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "sub").mkdir(parents=True)
    for i in range(2):
        (home / "sub" / "f.parquet").write_bytes(f"copy {i}".encode())
        moved = move_aside(home, home / "sub" / "f.parquet")
        assert moved is not None and moved.read_bytes() == f"copy {i}".encode()
        assert moved.is_relative_to(home / "damaged")
    assert not (home / "sub" / "f.parquet").exists()
    assert move_aside(home, home / "nothing") is None
    note_repair(home, "first\nline")
    (home / "sub" / "g").write_bytes(b"g")
    line = set_aside(home, home / "sub" / "g", "demo", "5 bytes short", "recomputing demo")
    assert line.startswith("sub/g (demo) was damaged: 5 bytes short; moved to damaged/")
    assert repairs_since(home, 0) == ["first line", line]
    assert repairs_since(home, 2e10) == []
