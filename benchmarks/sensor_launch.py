"""A run the sensor launches, against the CLI, for the same images added.

    python -m benchmarks.sensor_launch [--images DIR] [--n 4000] [--add 20] [--timeout 900]

What a user gets with ``collection_sensor`` switched on: ``dagster-daemon run`` on a
persistent ``DAGSTER_HOME`` (the sensor ticks at most once a minute; each run it requests is
launched as a process of its own by Dagster's default run launcher). The benchmark builds the
first ``--n`` images of the collection with the CLI, starts the daemon with the sensor on (its
first tick requests a run over the unchanged collection), adds ``--add`` images once that run
has ended and waits for the run the next tick requests. The same images are added to a copy of
the first build, built with ``xdeg build`` (the reference, in the same run). Prints both wall
times (the sensor's run from its launch to its end, and from its process's start; the tick's
delay is Dagster's schedule, not the run's cost), their ratio against the target (1.5) and how
many images had features computed (must be the new ones). Last line: one JSON object.

Without --images it uses the OpenMoji set (rendered into the data folder if needed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.incremental import _build, _copy, _hashes, collection_files, dagster_env

TARGET = 1.5  # sensor run / CLI, issue 20


def _start_daemon(home: Path, collection: Path, instance: Path) -> subprocess.Popen:
    """``dagster-daemon run`` on a new ``DAGSTER_HOME`` with ``collection_sensor`` on."""
    env = dagster_env(collection, home, instance)
    exe = Path(sys.executable).parent
    subprocess.run([str(exe / "dagster"), "sensor", "start", "collection_sensor", "-m",
                    "xdeg_pipeline.definitions"], env=env, check=True, capture_output=True,
                   text=True)
    return subprocess.Popen([str(exe / "dagster-daemon"), "run", "-m",
                             "xdeg_pipeline.definitions"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _runs(instance: Path) -> list:
    """The build runs of the instance, newest first (a fresh instance object: the daemon
    writes them from other processes)."""
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.from_config(str(instance)) as inst:
        return list(inst.get_run_records(filters=RunsFilter(job_name="build")))


def _wait_for_run(instance: Path, after: int, timeout: float, daemon: subprocess.Popen):
    """The first finished build run beyond the ``after`` already there."""
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"dagster-daemon exited ({daemon.returncode})")
        records = _runs(instance)
        if len(records) > after:
            record = records[0]
            status = record.dagster_run.status
            if status == DagsterRunStatus.SUCCESS:
                return record
            if status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
                raise SystemExit(f"the sensor's run {record.dagster_run.run_id} ended {status}")
        time.sleep(1.0)
    raise SystemExit(f"no run ended within {timeout:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sensor_launch",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, help="source folder (default: OpenMoji)")
    ap.add_argument("--n", type=int, default=4000, help="images in the first build")
    ap.add_argument("--add", type=int, default=20, help="images added afterwards")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for a run")
    args = ap.parse_args()
    args.images, files = collection_files(args.images, args.n + args.add)

    work = Path(tempfile.mkdtemp(prefix="xdeg-sensor-"))
    collection, home, instance = work / "images", work / "home", work / "instance"
    daemon = None
    try:
        _copy(args.images, collection, files[: args.n])
        t_full, _ = _build(collection, home, in_process=False)
        print(f"first build (CLI) of {args.n} images: {t_full:.1f} s", flush=True)
        shutil.copytree(collection, work / "cli-images", symlinks=True)
        shutil.copytree(home, work / "cli-home", symlinks=True)
        before = _hashes(home)

        daemon = _start_daemon(home, collection, instance)
        first = _wait_for_run(instance, 0, args.timeout, daemon)  # the unchanged collection
        print(f"the sensor's first run (nothing new): {first.end_time - first.start_time:.1f} s",
              flush=True)
        _copy(args.images, collection, files[args.n : args.n + args.add])
        added_at = time.time()
        run = _wait_for_run(instance, 1, args.timeout, daemon)
        new_content = len(_hashes(home) - before)
        launched = run.create_timestamp.timestamp()
        t_run = run.end_time - launched  # the tick's request to the run's end
        t_process = run.end_time - run.start_time  # the run's own process

        _copy(args.images, work / "cli-images", files[args.n : args.n + args.add])
        t_cli, cli = _build(work / "cli-images", work / "cli-home", in_process=False)
        computed_cli = cli["image_features"]["run_images_computed"]
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(work, ignore_errors=True)

    ratio = t_run / t_cli
    print(f"the sensor's run for {args.add} added images: {t_run:.1f} s from launch to end "
          f"({t_process:.1f} s in its process; the tick came {launched - added_at:.1f} s after "
          f"the images)")
    print(f"xdeg build, same change: {t_cli:.1f} s; ratio {ratio:.2f} (target <= {TARGET})")
    print(f"features computed: sensor run {new_content} new images, CLI {computed_cli}")
    print(json.dumps({
        "images": args.n, "added": args.add, "first_build_s": round(t_full, 2),
        "sensor_run_s": round(t_run, 2), "sensor_run_process_s": round(t_process, 2),
        "tick_delay_s": round(launched - added_at, 2), "cli_s": round(t_cli, 2),
        "ratio": round(ratio, 3), "target": TARGET, "new_content": new_content,
        "cli_computed": computed_cli}))


if __name__ == "__main__":
    main()
