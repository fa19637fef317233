"""What a stage wrote, so that it can be trusted later: size, mtime and content hash of a file.

A *record* is ``{"size": bytes, "mtime_ns": int, "hash": "xxh3_128:<hex>"}``, taken right
after the file was written (its bytes are still in the page cache). Before outputs are reused
they are checked *cheaply* (:func:`cheap_damage`): a missing file or another size is damage;
another mtime with the same size is settled by the hash (a copy without ``-p`` changes times,
not bytes). :func:`full_damage` always reads the bytes (``xdeg verify``): bit rot that keeps
size and time is found there. A damaged file is never deleted: :func:`move_aside` moves it to
``<home>/damaged/<time>/<its path>`` and :func:`note_repair` appends the one line said about
it to ``<home>/damaged/repairs.log``.

xxh3-128 (``xxhash``) hashes at ~6 GB/s on one core, 12x blake2b: at 10 M images (~60 GB of
outputs, 51 GB of them features) hashing stays far below the cost of writing them, and
``xdeg verify`` is bound by the disk, not the CPU. It is no cryptographic hash: it finds
damage, not tampering (content hashes of images stay sha256).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import xxhash

from xdeg_pipeline.core.storage.layout import Layout

BLOCK = 8 << 20
HASH_NAME = "xxh3_128"
REPAIRS_LOG = "repairs.log"
DAMAGED = " was damaged: "  # in every line said about a damaged file


def file_hash(path: Path) -> str:
    """``xxh3_128:<hex>`` of a file's bytes, read in 8 MiB blocks."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            h.update(block)
    return f"{HASH_NAME}:{h.hexdigest()}"


def record(path: Path) -> dict[str, Any]:
    """Size, mtime and hash of a file just written."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "hash": file_hash(path)}


def stat_signature(path: Path) -> tuple[int, int, int, int] | None:
    """Size, mtime, ctime and inode of a file (None when it cannot be read): what changes when
    it is rewritten or replaced (the ctime also when it is rewritten in place with its size and
    mtime put back), for readers that load it again then."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _size(n: int) -> str:
    return f"{n:,} bytes"


def cheap_damage(path: Path, rec: dict[str, Any]) -> str | None:
    """Why ``path`` no longer matches its record, by ``stat`` (and the hash only when the
    size is right but the time is not); None when it matches. A record ``xdeg verify
    --repair`` marked ``damaged`` says so."""
    if rec.get("damaged"):
        return f"{rec['damaged']} (found by xdeg verify)"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    if st.st_size != rec.get("size"):
        return f"{_size(st.st_size)} instead of the {_size(int(rec.get('size', 0)))} written"
    if st.st_mtime_ns != rec.get("mtime_ns") and file_hash(path) != rec.get("hash"):
        return "modified after it was written (its content hash differs)"
    return None


def full_damage(path: Path, rec: dict[str, Any]) -> str | None:
    """Why ``path`` no longer matches its record, reading every byte; None when it matches."""
    reason = cheap_damage(path, rec)
    if reason is not None:
        return reason
    if file_hash(path) != rec.get("hash"):
        return "its content hash differs from the one recorded (same size and time: bit rot)"
    return None


def relative(home: Path, path: Path) -> str:
    """``path`` as recorded in a state: relative to the data folder where it is inside it."""
    try:
        return Path(path).resolve().relative_to(Path(home).resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def damaged_dir(home: Path) -> Path:
    """Where damaged files are moved (``<home>/damaged``)."""
    return Layout(Path(home)).home / "damaged"


def move_aside(home: Path, path: Path) -> Path | None:
    """Move a damaged file to ``<home>/damaged/<UTC time>/<its path>``; None when it is gone."""
    path = Path(path)
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = damaged_dir(home) / stamp / relative(home, path).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{path.name}.{n}")
        n += 1
    os.replace(path, dest)
    return dest


def note_repair(home: Path, line: str) -> None:
    """Append the line said about a repair to ``<home>/damaged/repairs.log`` (time, tab, line)."""
    folder = damaged_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / REPAIRS_LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{time.time():.3f}\t{' '.join(line.split())}\n")


def repairs_since(home: Path, since: float) -> list[str]:
    """The repair lines noted at or after ``since`` (a ``time.time()``)."""
    path = damaged_dir(home) / REPAIRS_LOG
    if not path.exists():
        return []
    out = []
    for row in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stamp, _, line = row.partition("\t")
        try:
            if float(stamp) >= since:
                out.append(line)
        except ValueError:
            continue
    return out


def set_aside(home: Path, path: Path, what: str, reason: str, action: str) -> str:
    """Move a damaged file aside and note it; returns the one line said about it."""
    dest = move_aside(home, path)
    where = f"moved to {relative(home, dest)}" if dest else "it is gone"
    line = f"{relative(home, path)} ({what}){DAMAGED}{reason}; {where}; {action}"
    note_repair(home, line)
    return line
