"""Interrupted and concurrent builds.

``kill -9`` of ``xdeg build`` during feature extraction leaves the previous outputs readable
and whole, and the next build reuses the features checkpointed before the kill. Two builds on
one data folder never run at once: the second exits with code 3 and a clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline import cli
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.query import Collection, PathRequest
from xdeg_pipeline.core.storage.atomic import BuildLocked, build_lock
from xdeg_pipeline.core.storage.feature_store import FeatureStore
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline_tests.helpers.collections import make_collection, make_image

XDEG = [sys.executable, "-m", "xdeg_pipeline.cli"]
LOCKED_MESSAGE = "another xdeg build is running"
# outputs of the build stages that the kill happens before (raw_images is rewritten first)
LATER_OUTPUTS = (
    "image_features.parquet",
    "pca_features.parquet",
    "pca_model.npz",
    "knn_edges.parquet",
    "similarity_graph.pkl",
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An isolated data folder and a 24-image collection, set in this process's environment
    (for in-process builds) and inherited by the ``xdeg`` subprocesses."""
    paths = {name: tmp_path / name for name in ("home", "images", "dagster", "logs")}
    paths["dagster"].mkdir()
    (paths["dagster"] / "dagster.yaml").touch()
    paths["logs"].mkdir()
    make_collection(paths["images"], 24)
    monkeypatch.setenv("XDEG_HOME", str(paths["home"]))
    monkeypatch.setenv("XDEG_IMAGES", str(paths["images"]))
    monkeypatch.setenv("DAGSTER_HOME", str(paths["dagster"]))
    monkeypatch.setenv("XDEG_PROGRESS_BAR", "0")
    for name in ("XDEG_BACKBONE", "XDEG_MANIFEST", "XDEG_CHECKPOINT_EVERY"):
        monkeypatch.delenv(name, raising=False)
    return paths


def _add_images(images: Path, n: int, start: int) -> None:
    for i in range(start, start + n):
        make_image(images / "many" / f"m_{i:04d}.png", seed=i, size=32)


def _spawn_build(logs: Path, tag: str, **extra_env: str) -> subprocess.Popen:
    """``xdeg build --json`` in its own process group, output to files (never a full pipe)."""
    with open(logs / f"{tag}.out", "w") as out, open(logs / f"{tag}.err", "w") as err:
        return subprocess.Popen(
            [*XDEG, "build", "--json"],
            env={**os.environ, **extra_env},
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _wait_for(condition: Callable[[], object], proc: subprocess.Popen, logs: Path, tag: str,
              timeout: float = 300) -> None:
    """Poll until ``condition()`` is true while ``proc`` still runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            err = (logs / f"{tag}.err").read_text()[-3000:]
            pytest.fail(f"xdeg build exited ({proc.returncode}) too early:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen]]:
    """Kill whatever is left of the process groups started by a test (DataLoader workers
    orphaned by the kill, Dagster's log tailers)."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout=30)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_readable(home: Path) -> None:
    """Every output file under ``home`` with a final name (not a hidden temporary) is whole."""
    for path in home.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".pkl":
            load_graph(path, allowed_root=home)
        elif path.suffix == ".npz":
            with np.load(path) as npz:
                assert npz.files
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


def test_kill_during_features_keeps_outputs_and_next_build_resumes(
    env: dict[str, Path], reaper: list[subprocess.Popen]
) -> None:
    home, images, logs = env["home"], env["images"], env["logs"]
    first = cli.run_build(quiet=True)
    assert first["image_features"]["run_images_computed"] == 24
    before = {name: _sha(home / name) for name in LATER_OUTPUTS}

    _add_images(images, 200, start=1000)
    # CPU, checkpoints of 4 images: chunks are written while a shard's extraction runs
    proc = _spawn_build(logs, "killed", XDEG_CHECKPOINT_EVERY="4", XDEG_BATCH_SIZE="4",
                        CUDA_VISIBLE_DEVICES="")
    reaper.append(proc)
    cache = home / "feature_cache"
    _wait_for(lambda: any(cache.glob("shard=*/*/chunk-*.parquet")), proc, logs, "killed")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    # the lock died with the build, although its DataLoader worker may still be exiting
    with build_lock(home, wait=False):
        pass

    # killed mid-extraction: the chunks were not compacted yet, later stages never started
    assert any(cache.glob("shard=*/*/chunk-*.parquet"))
    assert {name: _sha(home / name) for name in LATER_OUTPUTS} == before
    _check_readable(home)
    assert len(pd.read_parquet(home / "raw_images.parquet")) == 224  # written before the kill
    # the previous graph still answers path requests
    collection = Collection(home, images)
    assert collection.graph.vcount() == 24
    (chain,) = collection.find(PathRequest("img_000", "img_023"))
    assert chain.path[0] == "more/img_000.png" and chain.path[-1] == "shapes/img_023.png"

    cached: set[str] = set()
    for shard in cache.glob("shard=*"):  # one content-hash cache per shard
        (folder,) = shard.iterdir()
        cached |= FeatureStore(shard, (folder / "KEY.txt").read_text().strip()).known()
    assert len(cached) >= 24 + 4
    second = cli.run_build(quiet=True)
    meta = second["image_features"]
    unique = set(pd.read_parquet(home / "raw_images.parquet")["content_hash"])
    assert len(unique) == 224
    assert meta["run_images_reused"] == len(cached & unique) > 24
    assert meta["run_images_computed"] == 224 - meta["run_images_reused"] > 0
    assert all(check["passed"] for check in second["checks"].values())
    assert second["similarity_graph"]["vertices"] == 224
    assert not any(cache.glob("shard=*/*/chunk-*.parquet"))  # compacted after a whole run
    _check_readable(home)


HOLD_AND_FORK = """
import multiprocessing, sys, time
from pathlib import Path
from xdeg_pipeline.core.storage.atomic import BuildLocked, build_lock

def work(started):
    started.set()  # the child's at-fork handlers have run by now
    time.sleep(60)

fork = multiprocessing.get_context("fork")
with build_lock(Path(sys.argv[1]), wait=False):
    started = fork.Event()
    child = fork.Process(target=work, args=(started,))
    child.start()
    started.wait(60)  # a worker is killed with its build long after it started
    print(child.pid, flush=True)
    time.sleep(60)
"""


def test_orphaned_worker_does_not_keep_the_build_lock(
    tmp_path: Path, reaper: list[subprocess.Popen]
) -> None:
    """A build forks workers (DataLoader) while it holds the lock; after ``kill -9`` of the
    build, an orphaned worker must not keep the data folder locked."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_AND_FORK, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    reaper.append(proc)
    worker = int(proc.stdout.readline())
    with pytest.raises(BuildLocked):
        with build_lock(tmp_path, wait=False):
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    os.kill(worker, 0)  # the orphan still runs
    with build_lock(tmp_path, wait=False):
        pass


def test_second_build_at_once_exits_3_then_all_consistent(
    env: dict[str, Path], reaper: list[subprocess.Popen], capsys: pytest.CaptureFixture[str]
) -> None:
    home, images, logs = env["home"], env["images"], env["logs"]
    _add_images(images, 60, start=2000)
    proc = _spawn_build(logs, "first")
    reaper.append(proc)
    # the first build holds the lock from before raw_images until its last asset
    _wait_for(lambda: (home / "raw_images.parquet").exists(), proc, logs, "first")
    code = cli.main(["build", "--json"])
    out, err = capsys.readouterr()
    assert proc.poll() is None, "the first build ended before the second started"
    assert code == 3
    assert LOCKED_MESSAGE in err and str(home) in err
    assert out == ""

    assert proc.wait(timeout=300) == 0, (logs / "first.err").read_text()[-3000:]
    summary = json.loads((logs / "first.out").read_text())
    assert all(check["passed"] for check in summary["checks"].values())
    assert summary["similarity_graph"]["vertices"] == 84

    # consistent: one more build recomputes nothing, every table agrees with the graph
    again = cli.run_build(quiet=True)
    assert again["image_features"]["run_images_computed"] == 0
    assert again["image_features"]["run_images_reused"] == 84
    manifest = pd.read_parquet(home / "raw_images.parquet")
    hashes, _ = read_feature_table(home / "image_features.parquet")
    graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    assert set(manifest["content_hash"]) == set(hashes) == set(graph.vs["content_hash"])
    assert read_state(home, "similarity_graph")["vertices"] == 84
    _check_readable(home)


def test_build_while_locked_exits_3_with_message(env: dict[str, Path]) -> None:
    """The console command itself: exit status 3, one clear line, nothing on stdout."""
    with build_lock(env["home"]):
        done = subprocess.run([*XDEG, "build", "--json"], capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    assert f"xdeg: {LOCKED_MESSAGE} on {env['home']}" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (env["home"] / "raw_images.parquet").exists()


SHARD_RUN = """
import json, sys
from pathlib import Path
from xdeg_pipeline.core.stages.shard_task import ShardTask, extract_shard, extractor_for
home, images = Path(sys.argv[1]), Path(sys.argv[2])
items = tuple((f"3{i:063x}", str(p)) for i, p in enumerate(sorted(images.rglob("*.png"))[:4]))
args = (("backbone", "efficientnet_lite0"), ("weights", None), ("device", "cpu"),
        ("batch_size", 4), ("num_workers", 0))
key = extractor_for(args).cache_key
out = extract_shard(ShardTask("3", items, str(home), key, "fp", args, 2))
print(json.dumps({"computed": out["computed"], "images": out["images"]}))
"""


def _waits_for_flock(lock_file: Path, pid: int) -> bool:
    """Whether process ``pid`` is blocked on the ``flock`` of ``lock_file`` (``/proc/locks``
    lists a waiter as ``N: -> FLOCK ADVISORY WRITE <pid> <dev>:<inode> ...``)."""
    inode = f":{lock_file.stat().st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        if "->" in line:
            kind, _, _, who, where = line.split("->", 1)[1].split()[:5]
            if kind == "FLOCK" and who == str(pid) and where.endswith(inode):
                return True
    return False


def test_shard_extraction_runs_while_another_run_holds_the_build_lock(
    env: dict[str, Path], reaper: list[subprocess.Popen],
) -> None:
    """Runs of different shards overlap: a shard's extraction takes only its own lock; a run
    of the same shard waits for that shard's lock (seen waiting in the kernel's lock table)."""
    shard_run = [sys.executable, "-c", SHARD_RUN, str(env["home"]), str(env["images"])]
    with build_lock(env["home"]):
        done = subprocess.run(shard_run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"computed": 4, "images": 4}
    assert (env["home"] / "image_features" / "shard=3.parquet").exists()
    logs, lock_file = env["logs"], Layout(env["home"]).lock_file("shard-3")
    with build_lock(env["home"], name="shard-3"):
        with open(logs / "shard.out", "w") as out, open(logs / "shard.err", "w") as err:
            proc = subprocess.Popen(shard_run, stdout=out, stderr=err, start_new_session=True)
        reaper.append(proc)
        _wait_for(lambda: _waits_for_flock(lock_file, proc.pid), proc, logs, "shard")
        assert proc.poll() is None
    assert proc.wait(timeout=120) == 0, (logs / "shard.err").read_text()[-2000:]
    assert json.loads((logs / "shard.out").read_text().splitlines()[-1])["computed"] == 0
