"""The stage runner: reuse when current, recompute when an input or an output changed, outputs
written atomically before the state, the stage's lock held while it runs, its timing."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from xdeg_pipeline.core.stage import Outcome, Stage, StageInputs, StageRunner
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import fingerprint, read_state, write_state


class Counting:
    """A compute function that counts its calls and writes one table."""

    def __init__(self, out: Path, rows: int = 3) -> None:
        self.out, self.rows, self.calls = out, rows, 0
        self.seen: list[StageInputs] = []

    def __call__(self, inputs: StageInputs) -> Outcome:
        self.calls += 1
        self.seen.append(inputs)
        table = pd.DataFrame({"x": range(self.rows)})
        return Outcome(state={"rows": self.rows}, writes={self.out: table},
                       facts={"computed": self.rows})


@pytest.fixture
def files(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "home")


def _stage(files: Layout, compute, **kwargs) -> Stage:
    kwargs.setdefault("upstream", ("up",))
    kwargs.setdefault("params", (1,))
    return Stage("demo", compute, outputs=(files.home / "demo.parquet",), **kwargs)


def test_computes_then_reuses_while_current(files: Layout) -> None:
    write_state(files.home, "up", {"output_fingerprint": "u1"})
    compute = Counting(files.home / "demo.parquet")
    runner = StageRunner(files)
    first = runner.run(_stage(files, compute))
    assert compute.calls == 1 and not first.reused
    assert first.facts == {"computed": 3} and first.get("computed") == 3
    state = read_state(files.home, "demo")
    assert state["input_fingerprint"] == fingerprint("u1", 1) == first.state["input_fingerprint"]
    assert state["output_fingerprint"] == state["input_fingerprint"]  # default: the input's
    assert state["rows"] == 3 and len(pd.read_parquet(files.home / "demo.parquet")) == 3
    assert compute.seen[0].upstream == {"up": {"output_fingerprint": "u1"}}
    assert compute.seen[0].previous == {}

    logged: list[str] = []
    again = StageRunner(files, logged.append).run(_stage(files, compute))
    assert compute.calls == 1 and again.reused
    assert again.state == state and again.facts == {} and again.get("rows") == 3
    assert logged == ["up unchanged: reusing demo"]
    assert runner.reusable(_stage(files, compute)) == state


@pytest.mark.parametrize("change", ["upstream", "params", "output_missing", "always"])
def test_recomputes_when_not_current(files: Layout, change: str) -> None:
    write_state(files.home, "up", {"output_fingerprint": "u1"})
    compute = Counting(files.home / "demo.parquet")
    runner = StageRunner(files)
    runner.run(_stage(files, compute))
    kwargs: dict = {}
    if change == "upstream":
        write_state(files.home, "up", {"output_fingerprint": "u2"})
    elif change == "params":
        kwargs["params"] = (2,)
    elif change == "output_missing":
        (files.home / "demo.parquet").unlink()
    else:
        kwargs["always"] = True
    assert runner.reusable(_stage(files, compute, **kwargs)) is None
    result = runner.run(_stage(files, compute, **kwargs))
    assert compute.calls == 2 and not result.reused
    assert compute.seen[1].previous["rows"] == 3  # the stage sees its previous state
    assert (files.home / "demo.parquet").exists()


def test_explicit_fingerprint_and_output_fingerprint(files: Layout) -> None:
    def compute(inputs: StageInputs) -> Outcome:
        assert inputs.fingerprint == "fp-1"
        return Outcome(output_fingerprint="out-9")

    result = StageRunner(files).run(Stage("x", compute, fingerprint="fp-1"))
    assert result.output_fingerprint == "out-9"
    assert read_state(files.home, "x")["input_fingerprint"] == "fp-1"
    # without upstream, params or fingerprint there is no input fingerprint to compare
    none = StageRunner(files).run(Stage("y", lambda _: Outcome(output_fingerprint="c"),
                                        always=True))
    assert "input_fingerprint" not in none.state and none.output_fingerprint == "c"


def test_every_kind_of_output_is_written(files: Layout) -> None:
    out = files.home / "out"

    def stream(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for i in range(3):
                fh.write(f"line {i}\n")

    writes = {out / "t.parquet": pd.DataFrame({"a": [1]}), out / "b.bin": b"\x00\x01",
              out / "s.txt": "text", out / "w.txt": stream}
    StageRunner(files).run(Stage("kinds", lambda _: Outcome(writes=writes), always=True))
    assert pd.read_parquet(out / "t.parquet")["a"].tolist() == [1]
    assert (out / "b.bin").read_bytes() == b"\x00\x01"
    assert (out / "s.txt").read_text() == "text"
    assert (out / "w.txt").read_text().splitlines() == ["line 0", "line 1", "line 2"]
    with pytest.raises(TypeError, match="writer callable"):
        StageRunner(files).run(Stage("bad", lambda _: Outcome(writes={out / "x": 3}),
                                     always=True))


def test_outputs_in_place_before_the_state_and_nothing_on_failure(files: Layout) -> None:
    target = files.home / "demo.parquet"
    seen_states: list[dict] = []

    def watching_writer(tmp: Path) -> None:
        seen_states.append(read_state(files.home, "demo"))  # the state is not written yet
        pd.DataFrame({"x": [1, 2]}).to_parquet(tmp)

    runner = StageRunner(files)
    runner.run(Stage("demo", lambda _: Outcome(state={"v": 1}, writes={target: watching_writer}),
                     params=("a",), outputs=(target,)))
    assert seen_states == [{}] and read_state(files.home, "demo")["v"] == 1
    before = (target.read_bytes(), read_state(files.home, "demo"))

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half a parquet file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runner.run(Stage("demo", lambda _: Outcome(state={"v": 2}, writes={target: broken}),
                         params=("b",), outputs=(target,)))
    assert (target.read_bytes(), read_state(files.home, "demo")) == before
    assert not list(files.home.glob(".*.tmp"))  # no temporary left behind

    def failing(_: StageInputs) -> Outcome:
        raise ValueError("no usable image")

    with pytest.raises(ValueError):
        runner.run(Stage("demo", failing, params=("c",), outputs=(target,)))
    assert read_state(files.home, "demo") == before[1]


def _locked(lock_file: Path) -> bool:
    """Whether another open file description holds the flock (as another process would)."""
    with open(lock_file, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


@pytest.mark.parametrize("lock", ["build", "shard-3", None])
def test_the_stage_lock_is_held_while_it_computes(files: Layout, lock: str | None) -> None:
    held: dict[str, bool] = {}

    def compute(_: StageInputs) -> Outcome:
        for name in ("build", "shard-3"):
            path = files.lock_file(name)
            held[name] = path.exists() and _locked(path)
        return Outcome()

    StageRunner(files).run(Stage("locked", compute, always=True, lock=lock))
    assert held == {"build": lock == "build", "shard-3": lock == "shard-3"}
    for name in ("build", "shard-3"):  # released afterwards
        path = files.lock_file(name)
        assert not (path.exists() and _locked(path))


def test_timing_in_result_and_state(files: Layout) -> None:
    """The seconds are recorded (the runner's overhead is measured in benchmarks.guards)."""
    calls = []

    def slow(_: StageInputs) -> Outcome:
        calls.append(1)
        time.sleep(0.2)
        return Outcome()

    result = StageRunner(files).run(Stage("slow", slow, params=(1,)))
    assert result.seconds >= 0.2
    state = json.loads(files.state_file("slow").read_text())
    assert state["seconds"] == round(result.seconds, 3)
    reused = StageRunner(files).run(Stage("slow", slow, params=(1,)))
    assert reused.reused and len(calls) == 1 and reused.state["seconds"] == state["seconds"]


# ------------------------------------------------------------ records of what was written
def test_outputs_are_recorded_and_a_damaged_one_is_moved_aside_and_recomputed(
        files: Layout) -> None:
    write_state(files.home, "up", {"output_fingerprint": "u1"})
    out = files.home / "demo.parquet"
    compute = Counting(out)
    StageRunner(files).run(_stage(files, compute))
    rec = read_state(files.home, "demo")["outputs"]["demo.parquet"]
    assert rec["size"] == out.stat().st_size and rec["mtime_ns"] == out.stat().st_mtime_ns
    assert rec["hash"].startswith("xxh3_128:")

    good = out.read_bytes()
    out.write_bytes(good[:10])  # truncated
    warned: list[str] = []
    result = StageRunner(files, warn=warned.append).run(_stage(files, compute))
    assert compute.calls == 2 and not result.reused
    assert len(warned) == 1 and warned[0].startswith("demo.parquet (demo) was damaged: 10 bytes")
    assert warned[0].endswith("; recomputing demo")
    moved = list((files.home / "damaged").rglob("demo.parquet"))
    assert [p.read_bytes() for p in moved] == [good[:10]]  # set aside, not deleted
    assert out.read_bytes() == good


def test_a_time_change_alone_is_settled_by_the_hash(files: Layout) -> None:
    write_state(files.home, "up", {"output_fingerprint": "u1"})
    out = files.home / "demo.parquet"
    compute = Counting(out)
    runner = StageRunner(files)
    runner.run(_stage(files, compute))
    os.utime(out, ns=(out.stat().st_atime_ns, out.stat().st_mtime_ns + 5 * 10**9))
    assert runner.run(_stage(files, compute)).reused and compute.calls == 1
    assert read_state(files.home, "demo")["outputs"]["demo.parquet"]["mtime_ns"] == \
        out.stat().st_mtime_ns  # recorded: no hash on the next run
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, another time: the hash finds it
    out.write_bytes(bytes(data))
    assert runner.reusable(_stage(files, compute)) is None
    assert not runner.run(_stage(files, compute)).reused and compute.calls == 2
