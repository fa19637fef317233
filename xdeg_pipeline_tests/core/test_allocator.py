"""malloc tuned for a build: memory freed and allocated again is not faulted in again. The
resource tunes it when a Dagster run starts (``xdeg_pipeline_tests/test_resources.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from xdeg_pipeline.core import allocator
from xdeg_pipeline_tests.helpers.glibc import GLIBC, env_without_malloc

# Frees and allocates buffers of a few to 20 MB, as a build does; prints the page faults this
# took after one warm-up round. With ``tune`` the build's tuning is on first.
_CYCLES = """
import resource, sys
if sys.argv[1] == "tune":
    from xdeg_pipeline.core.allocator import tune_malloc
    from xdeg_pipeline.core.settings import malloc_set_by_environment
    print(tune_malloc(malloc_set_by_environment()))
def cycle(sizes):
    held = [bytearray(s << 20) for s in sizes]
    del held
cycle([6, 12, 3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(20):
    cycle([6, 12, 3] if i % 2 else [20, 5, 9])
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")


def _run(mode: str, **env: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _CYCLES, mode], env=env_without_malloc(**env),
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


@glibc
def test_tuned_malloc_reuses_freed_memory():
    plain = int(_run("none")[-1])
    outcome, tuned = _run("tune")
    assert outcome == "tuned"
    assert int(tuned) < plain / 2, (tuned, plain)  # measured: 3,300 against 13,800


@glibc
def test_malloc_settings_of_the_user_are_kept():
    outcome, faults = _run("tune", MALLOC_ARENA_MAX="2")
    assert outcome == "user"
    assert int(faults) > int(_run("tune")[-1]) * 2  # glibc's own behaviour, not ours


def test_tuning_is_done_once(monkeypatch):
    calls = []
    monkeypatch.setattr(allocator, "_outcome", None)
    monkeypatch.setattr(allocator, "_tune", lambda: calls.append(1) or "unavailable")
    assert allocator.tune_malloc() == allocator.tune_malloc() == "unavailable"
    assert calls == [1]
