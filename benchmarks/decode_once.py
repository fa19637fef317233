"""Decode once: the feature and thumbnails stages with thumbnails made from the features' pixels
(the build's way) against each stage decoding for itself (the way before), same run.

    python -m benchmarks.decode_once [--images DIR] [--n N] [--rounds R] [--runtime RT]
        [--cache DIR]

Real images: ``--images`` (a folder), else ``--n`` images of the demo collection (rendered
under ``--cache``, default ``<tmp>/xdeg-bench``; the output says which). Each round runs
``raw_images``, ``image_features`` and ``thumbnails`` (the core stages, as the build runs them)
twice in one data folder, emptied before each build but for its exported model: *separate*
with the loaders' thumbnails switched off (``ThumbnailJob.wanted`` answers no: each stage
decodes for itself, as before), *once* as the build does it. The model is loaded (and exported)
and warmed before the rounds, so the stages measure decoding, the model and the thumbnails.
Per stage: wall seconds and the process's CPU seconds (all threads), and the ratios
once / separate. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.demo_collection import cache_root, real_collections
from xdeg_pipeline.core.images.thumbnail import ThumbnailJob
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.features import image_features
from xdeg_pipeline.core.stages.ingest import raw_images
from xdeg_pipeline.core.stages.shard_task import extractor_for
from xdeg_pipeline.core.stages.thumbnails import thumbnails

STAGES = ("image_features", "thumbnails")


def _timed(fn, *args) -> tuple[dict, float, float]:
    """``fn(*args)``'s facts, wall and CPU seconds."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result.facts, time.perf_counter() - w0, time.process_time() - c0


def _emptied(home: Path) -> None:
    """``home`` without any output: only the exported model is kept (``models``)."""
    for entry in home.iterdir() if home.is_dir() else ():
        if entry.name != "models":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def one_build(settings: Settings, once: bool) -> dict:
    """raw_images, image_features, thumbnails in an emptied data folder: seconds per stage."""
    _emptied(settings.home)
    raw_images(settings)
    wanted = ThumbnailJob.wanted
    if not once:
        ThumbnailJob.wanted = lambda self, i: False  # type: ignore[method-assign]
    try:
        feats, fw, fc = _timed(image_features, settings)
    finally:
        ThumbnailJob.wanted = wanted  # type: ignore[method-assign]
    thumbs, tw, tc = _timed(thumbnails, settings)
    by_stage = thumbs["made"] - thumbs.get("made_by_features", 0)
    return {"images": feats["images_computed"], "thumbnails_made_by_stage": by_stage,
            "runtime": feats["runtime"],
            "image_features": {"wall_s": round(fw, 3), "cpu_s": round(fc, 3)},
            "thumbnails": {"wall_s": round(tw, 3), "cpu_s": round(tc, 3)},
            "sum": {"wall_s": round(fw + tw, 3), "cpu_s": round(fc + tc, 3)}}


def _median(runs: list[dict], part: str, key: str) -> float:
    return round(statistics.median(r[part][key] for r in runs), 3)


def _warm(settings: Settings) -> None:
    """Load (and export) the model the stages will use, and run it once, outside the rounds:
    the stages find it loaded (one extractor per process and settings)."""
    fx = extractor_for(tuple(settings.extractor_options().items()))
    fx.extract(sorted(p for p in settings.images_root.rglob("*") if p.is_file())[:8])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.decode_once",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=None, help="folder (default: demo sample)")
    ap.add_argument("--n", type=int, default=600, help="demo images when --images is not given")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of (separate, once)")
    ap.add_argument("--runtime", default="auto", help="inference runtime (default auto)")
    ap.add_argument("--cache", type=Path, default=None, help="cache folder")
    args = ap.parse_args(argv)
    folders, which = real_collections([args.images] if args.images else None, args.n, args.cache)
    images = folders[0]
    print(f"images: {which}")
    work = Path(tempfile.mkdtemp(prefix="xdeg-decode-once-", dir=cache_root(args.cache)))
    settings = Settings(home=work, images_dir=images, runtime=args.runtime, progress="off")
    runs: dict[str, list[dict]] = {"separate": [], "once": []}
    try:
        _warm(settings)
        for r in range(args.rounds):
            for mode in ("separate", "once"):
                runs[mode].append(one_build(settings, mode == "once"))
                print(f"round {r + 1} {mode:8s}: " + ", ".join(
                    f"{p} {runs[mode][-1][p]['wall_s']:.2f} s wall / "
                    f"{runs[mode][-1][p]['cpu_s']:.2f} s CPU" for p in (*STAGES, "sum")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out: dict = {"images": runs["once"][0]["images"], "which": which, "rounds": args.rounds,
                 "runtime": runs["once"][0]["runtime"],
                 "thumbnails_made_by_stage": {m: runs[m][0]["thumbnails_made_by_stage"]
                                              for m in runs}}
    for mode in runs:
        out[mode] = {p: {k: _median(runs[mode], p, k) for k in ("wall_s", "cpu_s")}
                     for p in (*STAGES, "sum")}
    out["ratios_once_over_separate"] = {
        p: {k: round(out["once"][p][k] / max(out["separate"][p][k], 1e-9), 3)
            for k in ("wall_s", "cpu_s")} for p in (*STAGES, "sum")}
    n = out["images"]
    out["images_per_cpu_s"] = {m: round(n / max(out[m]["sum"]["cpu_s"], 1e-9), 1) for m in runs}
    print(f"features + thumbnails, once / separate: wall "
          f"{out['ratios_once_over_separate']['sum']['wall_s']:.3f}, CPU "
          f"{out['ratios_once_over_separate']['sum']['cpu_s']:.3f}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
