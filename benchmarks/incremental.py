"""Incremental build: full build of N images, then add 1% and build again, as a user would,
through the CLI and through Dagster.

    python -m benchmarks.incremental [--images DIR] [--n 4000] [--add 0.01] [--in-process]
                                     [--via both|cli|dagster]

CLI: each build is ``python -m xdeg_pipeline.cli build --json`` in a new process (what a user
runs; ``--in-process``: ``run_build`` in this process) on a real Dagster instance in a
temporary folder. Dagster: each build is ``dagster job execute -m xdeg_pipeline.definitions -j
build`` with the all-shard partition range tags (docs/scaling.md) on a persistent
``DAGSTER_HOME`` instance, as the daemon launches a run (its own folder and collection, so the
two paths never share work). Prints the wall times of the full build, of the build after adding
``--add`` of the images (and, CLI only, of a re-run with nothing changed), their ratio, how many
images had features computed (must be exactly the new content), and where each build's time
went: for the CLI process start and imports, Dagster run set-up and checks (the run's wall time
less its stages), and every stage; for ``dagster job execute`` every step as Dagster timed it
and the rest (process start, imports, run set-up, events). With each build's CPU seconds (user
+ system: on a machine shared with other work they move far less than wall times). The
similarity graph's mode (update or rebuild) is shown. Last line: one JSON object, with
``ratio_cli`` and ``ratio_dagster`` (+1 % wall / full wall) against the targets (0.10, 0.12).

Without --images it uses the OpenMoji set (rendered into the data folder if needed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xdeg_pipeline.terminal import STAGES  # every build stage, in the summary's order


def _image_files(root: Path) -> list[Path]:
    exts = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file())


def _hashes(home: Path) -> set[str]:
    import pandas as pd

    table = pd.read_parquet(home / "raw_images.parquet", columns=["content_hash"])
    return set(table["content_hash"])


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _build(collection: Path, home: Path, in_process: bool) -> tuple[float, dict]:
    """(wall seconds, the build's JSON summary with ``cpu_s``: the CPU seconds it took, which
    other work on a shared machine changes far less than the wall time)."""
    t0 = time.perf_counter()
    if in_process:
        from xdeg_pipeline.core.settings import Settings
        from xdeg_pipeline.runs import run_build

        c0 = _cpu(resource.RUSAGE_SELF)
        summary = run_build(quiet=True, settings=Settings.from_env(
            {}, home=home, images_dir=collection, progress="off"))
        summary["cpu_s"] = round(_cpu(resource.RUSAGE_SELF) - c0, 2)
        return time.perf_counter() - t0, summary
    c0 = _cpu(resource.RUSAGE_CHILDREN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDEG_", "DAGSTER_"))}
    done = subprocess.run(
        [sys.executable, "-m", "xdeg_pipeline.cli", "build", "--json", "--images",
         str(collection), "--home", str(home)],
        capture_output=True, text=True, env={**env, "XDEG_PROGRESS_BAR": "0"}, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"build failed ({done.returncode}):\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["cpu_s"] = round(_cpu(resource.RUSAGE_CHILDREN) - c0, 2)
    return wall, summary


_STEP = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s|m|h)(?:(\d+)(s|m))?')
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def step_seconds(log: str) -> dict[str, float]:
    """Seconds of every step of a ``dagster job execute`` log (its STEP_SUCCESS lines:
    ``533ms``, ``2.1s``, ``4m52s``)."""
    out: dict[str, float] = {}
    for m in _STEP.finditer(log):
        sec = float(m.group(2)) * _UNIT[m.group(3)]
        if m.group(4):
            sec += float(m.group(4)) * _UNIT[m.group(5)]
        out[m.group(1)] = out.get(m.group(1), 0.0) + sec
    return out


def dagster_env(collection: Path, home: Path, instance: Path) -> dict[str, str]:
    """The environment of a Dagster process on the persistent instance ``instance`` (made if
    new, with the ``dagster.yaml`` xdeg writes for a data folder) building ``collection`` into
    ``home``; no other XDEG_ or DAGSTER_ setting."""
    from xdeg_pipeline.runs import instance_folder

    instance_folder(instance)  # the settings xdeg gives a data folder's instance
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDEG_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(instance), XDEG_HOME=str(home), XDEG_IMAGES=str(collection),
               XDEG_PROGRESS_BAR="0")
    return env


def collection_files(images: Path | None, need: int) -> tuple[Path, list[Path]]:
    """The source folder (default: the OpenMoji set, rendered if needed) and its image files,
    said in one line; exits when it holds fewer than ``need``."""
    if images is None:
        from xdeg_pipeline.core.settings import default_collection
        from xdeg_pipeline.core.sources.openmoji import render_openmoji

        render_openmoji(default_collection())
        images = default_collection()
    files = _image_files(images)
    print(f"collection: {images} ({len(files)} images; the demo collection unless "
          "--images names another)")
    if len(files) < need:
        raise SystemExit(f"{images} has {len(files)} images; need {need}")
    return images, files


def _dagster_build(collection: Path, home: Path, instance: Path) -> tuple[float, dict]:
    """``dagster job execute -j build`` on the persistent instance ``instance``: (wall seconds,
    a summary like the CLI's: each step's seconds, ``seconds`` their sum, ``cpu_s``, and the
    graph stage's mode from its state)."""
    env = dagster_env(collection, home, instance)
    exe = Path(sys.executable).with_name("dagster")
    tags = json.dumps({"dagster/asset_partition_range_start": "0",
                       "dagster/asset_partition_range_end": "f"})
    c0 = _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([str(exe) if exe.exists() else "dagster", "job", "execute", "-m",
                           "xdeg_pipeline.definitions", "-j", "build", "--tags", tags],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0 or "RUN_SUCCESS" not in done.stdout + done.stderr:
        raise SystemExit(f"dagster job execute failed ({done.returncode}):\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    steps = step_seconds(done.stdout + done.stderr)
    summary = {name: {"seconds": sec} for name, sec in steps.items()}
    summary["seconds"] = sum(steps.values())
    summary["cpu_s"] = round(_cpu(resource.RUSAGE_CHILDREN) - c0, 2)
    summary["graph_mode"] = _graph_mode(home)
    return wall, summary


def _graph_mode(home: Path) -> str | None:
    """The similarity graph stage's mode (update / rebuild / build) from its state."""
    try:
        state = json.loads((home / "state" / "similarity_graph.json").read_text())
    except (OSError, ValueError):
        return None
    return state.get("mode")


def dagster_breakdown(wall: float, summary: dict) -> dict[str, float]:
    """Where a ``dagster job execute`` run's wall time went: every step, and the rest."""
    steps = {k: float(v["seconds"]) for k, v in summary.items()
             if isinstance(v, dict) and "seconds" in v}
    out = {"process start, imports, run set-up, events": max(wall - sum(steps.values()), 0.0)}
    out.update(steps)
    return {k: round(v, 2) for k, v in out.items()}


def breakdown(wall: float, summary: dict) -> dict[str, float]:
    """Where a build's wall time went, in seconds."""
    stages = {s: float(summary.get(s, {}).get("seconds") or 0.0) for s in STAGES}
    run = float(summary.get("seconds") or wall)
    out = {"process start, imports, instance": max(wall - run, 0.0),
           "Dagster run set-up, checks": max(run - sum(stages.values()), 0.0)}
    out.update(stages)
    return {k: round(v, 2) for k, v in out.items()}


def _print_breakdown(label: str, wall: float, parts: dict[str, float], summary: dict) -> None:
    feats = summary.get("image_features", {})
    print(f"{label}: {wall:.2f} s (CPU {summary['cpu_s']:.2f} s)")
    for name, sec in parts.items():
        extra = ""
        if name == "image_features":
            extra = (f"  ({feats.get('run_images_computed', 0)} computed in "
                     f"{feats.get('shards_computed', 0)} shards, runtime "
                     f"{feats.get('runtime', '?')})")
        if name in ("knn_edges", "similarity_graph") and summary.get(name, {}).get("mode"):
            extra = f"  ({summary[name]['mode']})"
        if name == "collection_map" and summary.get("collection_map", {}).get("mode"):
            extra = f"  ({summary['collection_map']['mode']})"
        if name == "thumbnails" and "made" in summary.get("thumbnails", {}):
            extra = f"  ({summary['thumbnails']['made']} made)"
        print(f"  {name:42s} {sec:7.2f} s{extra}")


def _copy(source: Path, collection: Path, batch: list[Path]) -> None:
    for src in batch:
        dst = collection / src.relative_to(source)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _cli(args: argparse.Namespace, files: list[Path], n_add: int, work: Path) -> dict:
    """Full build, +``n_add`` and an unchanged re-run through the CLI: the JSON fields."""
    collection, home = work / "cli-images", work / "cli-home"
    _copy(args.images, collection, files[: args.n])
    t_full, full = _build(collection, home, args.in_process)
    before = _hashes(home)
    _copy(args.images, collection, files[args.n : args.n + n_add])
    t_inc, inc = _build(collection, home, args.in_process)
    new_content = len(_hashes(home) - before)  # a copy of a known image needs no features
    t_same, same = _build(collection, home, args.in_process)
    computed = inc["image_features"]["run_images_computed"]
    parts = {"full": breakdown(t_full, full), "incremental": breakdown(t_inc, inc),
             "unchanged": breakdown(t_same, same)}
    _print_breakdown(f"CLI: full build of {args.n} images", t_full, parts["full"], full)
    _print_breakdown(f"CLI: after adding {n_add} images (ratio {t_inc / t_full:.3f})", t_inc,
                     parts["incremental"], inc)
    _print_breakdown("CLI: re-run with nothing changed", t_same, parts["unchanged"], same)
    print(f"features computed on the second run: {computed} (added {n_add} files, "
          f"{new_content} with new content, the rest copies of images already there)")
    return {
        "full_build_s": round(t_full, 2), "incremental_build_s": round(t_inc, 2),
        "ratio": round(t_inc / t_full, 4), "ratio_cli": round(t_inc / t_full, 4),
        "full_build_cpu_s": full["cpu_s"], "incremental_build_cpu_s": inc["cpu_s"],
        "unchanged_rebuild_cpu_s": same["cpu_s"],
        "ratio_cpu": round(inc["cpu_s"] / full["cpu_s"], 4),
        "features_computed_incremental": computed, "added_new_content": new_content,
        "exactly_the_added": computed == new_content,
        "shards_computed_incremental": inc["image_features"].get("shards_computed"),
        "unchanged_rebuild_s": round(t_same, 2),
        "features_computed_unchanged": same["image_features"]["run_images_computed"],
        "runtime": full["image_features"].get("runtime"),
        "knn_mode_incremental": inc.get("knn_edges", {}).get("mode"),
        "graph_mode_incremental": inc.get("similarity_graph", {}).get("mode"),
        "pca_refit_incremental": inc.get("pca_features", {}).get("refit"),
        "breakdown_s": parts,
    }


def _dagster(args: argparse.Namespace, files: list[Path], n_add: int, work: Path) -> dict:
    """Full build and +``n_add`` through ``dagster job execute -j build``: the JSON fields."""
    collection, home, instance = work / "dg-images", work / "dg-home", work / "dg-instance"
    _copy(args.images, collection, files[: args.n])
    t_full, full = _dagster_build(collection, home, instance)
    before = _hashes(home)
    _copy(args.images, collection, files[args.n : args.n + n_add])
    t_inc, inc = _dagster_build(collection, home, instance)
    new_content = len(_hashes(home) - before)
    parts = {"full": dagster_breakdown(t_full, full),
             "incremental": dagster_breakdown(t_inc, inc)}
    for label, t, part, s in ((f"full build of {args.n} images", t_full, parts["full"], full),
                              (f"after adding {n_add} images (ratio {t_inc / t_full:.3f})",
                               t_inc, parts["incremental"], inc)):
        print(f"dagster job execute: {label}: {t:.2f} s (CPU {s['cpu_s']:.2f} s)")
        for name, sec in part.items():
            extra = f"  ({s['graph_mode']})" if name == "similarity_graph" else ""
            print(f"  {name:42s} {sec:7.2f} s{extra}")
    return {"dagster_full_build_s": round(t_full, 2),
            "dagster_incremental_build_s": round(t_inc, 2),
            "ratio_dagster": round(t_inc / t_full, 4),
            "dagster_full_build_cpu_s": full["cpu_s"],
            "dagster_incremental_build_cpu_s": inc["cpu_s"],
            "dagster_added_new_content": new_content,
            "dagster_graph_mode_incremental": inc["graph_mode"],
            "dagster_breakdown_s": parts}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.incremental",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, help="source folder (default: OpenMoji)")
    parser.add_argument("--n", type=int, default=4000, help="images in the first build")
    parser.add_argument("--add", type=float, default=0.01, help="fraction added afterwards")
    parser.add_argument("--in-process", action="store_true",
                        help="CLI builds with run_build in this process (no process start)")
    parser.add_argument("--via", choices=("both", "cli", "dagster"), default="both",
                        help="the CLI, dagster job execute, or both (default)")
    args = parser.parse_args()

    n_add = max(1, round(args.n * args.add))
    args.images, files = collection_files(args.images, args.n + n_add)

    work = Path(tempfile.mkdtemp(prefix="xdeg-incremental-"))
    result: dict = {"images": args.n, "added": n_add, "in_process": args.in_process,
                    "targets": {"ratio_cli": 0.10, "ratio_dagster": 0.12}}
    try:
        if args.via in ("both", "cli"):
            result.update(_cli(args, files, n_add, work))
        if args.via in ("both", "dagster"):
            result.update(_dagster(args, files, n_add, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
