"""Fingerprints of each stage's inputs, so an unchanged re-run recomputes nothing expensive."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xdeg_pipeline.core.storage.atomic import write_text
from xdeg_pipeline.core.storage.layout import Layout


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (order matters)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode("utf-8", "surrogateescape"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def fingerprint_lines(lines: Iterable[str]) -> str:
    """Hash many strings (e.g. sorted content hashes) without building one big JSON."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "surrogateescape"))
        h.update(b"\n")
    return h.hexdigest()[:16]


def _state_file(home: Path, stage: str) -> Path:
    return Layout(Path(home)).state_file(stage)


def read_state(home: Path, stage: str) -> dict[str, Any]:
    """The state a stage recorded after its last successful write ({} when none)."""
    path = _state_file(home, stage)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_state(home: Path, stage: str, state: dict[str, Any]) -> None:
    """Record a stage's state atomically (after its outputs are in place)."""
    write_text(json.dumps(state, indent=2, sort_keys=True, default=str), _state_file(home, stage))


def is_current(
    home: Path, stage: str, input_fp: str, outputs: Iterable[Path]
) -> dict[str, Any] | None:
    """The stored state if it was made from ``input_fp`` and all ``outputs`` still exist."""
    state = read_state(home, stage)
    if state.get("input_fingerprint") != input_fp:
        return None
    if not all(Path(p).exists() for p in outputs):
        return None
    return state
