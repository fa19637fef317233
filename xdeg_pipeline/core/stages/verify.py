"""``xdeg verify``: every output and feature-cache file read against the hash recorded when it
was written (:mod:`..storage.integrity`); bit rot that keeps size and time is found here.

``--repair`` marks each damaged output's record (``damaged``: the reason), so that the next
build's check of that stage finds it, moves it aside with its one line and recomputes it; a
damaged cache file is moved aside at once (under its shard's lock) and its features are
computed again when needed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from xdeg_pipeline.core.storage.atomic import build_lock, write_text
from xdeg_pipeline.core.storage.feature_store import RECORDS_FILE
from xdeg_pipeline.core.storage.integrity import full_damage, relative, set_aside
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import read_state, write_state


@dataclass
class Finding:
    """One damaged file: where, whose (a stage's state or a cache folder), why."""

    path: Path
    owner: str
    reason: str
    cache: bool = False


@dataclass
class Verification:
    """What ``verify`` read and found."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    damaged: list[Finding] = field(default_factory=list)


def _stage_records(files: Layout):
    for state_file in sorted(files.state_dir.glob("*.json")):
        name = state_file.stem
        for rel, rec in read_state(files.home, name).get("outputs", {}).items():
            yield name, files.home / rel, rec


def _cache_records(files: Layout):
    for records in sorted(files.feature_cache.rglob(RECORDS_FILE)):
        try:
            table = json.loads(records.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for name, rec in table.items():
            yield records.parent, records.parent / name, rec


def verify(home: Path) -> Verification:
    """Read every recorded file of the data folder ``home`` and compare it with its record."""
    files, out, t0 = Layout(Path(home)), Verification(), time.perf_counter()
    for owner, path, rec in _stage_records(files):
        out.files += 1
        out.bytes += int(rec.get("size", 0))
        reason = full_damage(path, rec)
        if reason is not None:
            out.damaged.append(Finding(path, owner, reason))
    for folder, path, rec in _cache_records(files):
        out.files += 1
        out.bytes += int(rec.get("size", 0))
        reason = full_damage(path, rec)
        if reason is not None:
            out.damaged.append(Finding(path, relative(files.home, folder), reason, cache=True))
    out.seconds = time.perf_counter() - t0
    return out


def mark_for_repair(home: Path, found: Verification) -> list[str]:
    """Damaged outputs: their records say so (the next build moves them aside and recomputes
    them); damaged cache files: moved aside now. Returns the lines said about the latter."""
    files, lines = Layout(Path(home)), []
    with build_lock(files.home):
        for f in found.damaged:
            if f.cache:
                lines.append(_set_aside_cache(files, f))
                continue
            state = read_state(files.home, f.owner)
            rel = relative(files.home, f.path)
            if rel in state.get("outputs", {}):
                state["outputs"][rel]["damaged"] = f.reason
                write_state(files.home, f.owner, state)
    return lines


def _set_aside_cache(files: Layout, f: Finding) -> str:
    shard = Path(f.owner).parts[1].split("=", 1)[-1] if len(Path(f.owner).parts) > 1 else ""
    with build_lock(files.home, name=f"shard-{shard}"):
        line = set_aside(files.home, f.path, "feature cache", f.reason,
                         "its images' features are computed again when needed")
        records = f.path.parent / RECORDS_FILE
        table = json.loads(records.read_text(encoding="utf-8"))
        table.pop(f.path.name, None)
        write_text(json.dumps(table, indent=1, sort_keys=True), records)
    return line
