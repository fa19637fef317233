"""Incremental build: full build of N images, then add 1% and build again.

Prints both wall times, their ratio, and how many images had features computed on the second
run (must equal the number added). Runs the same Dagster materialisation as ``xdeg build``, on a
real Dagster instance in a temporary folder. Last line: one JSON object.

    python -m benchmarks.incremental [--images DIR] [--n 4000] [--add 0.01]

Without --images it uses the OpenMoji set (rendered into the data folder if needed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def _image_files(root: Path) -> list[Path]:
    exts = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file())


def _hashes(home: Path) -> set[str]:
    import pandas as pd

    table = pd.read_parquet(home / "raw_images.parquet", columns=["content_hash"])
    return set(table["content_hash"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, help="source folder (default: OpenMoji)")
    parser.add_argument("--n", type=int, default=4000, help="images in the first build")
    parser.add_argument("--add", type=float, default=0.01, help="fraction added afterwards")
    args = parser.parse_args()

    if args.images is None:
        from xdeg_pipeline.core.openmoji import render_openmoji
        from xdeg_pipeline.core.settings import default_collection

        render_openmoji(default_collection())
        args.images = default_collection()
    files = _image_files(args.images)
    n_add = max(1, round(args.n * args.add))
    if len(files) < args.n + n_add:
        raise SystemExit(f"{args.images} has {len(files)} images; need {args.n + n_add}")

    work = Path(tempfile.mkdtemp(prefix="xdeg-incremental-"))
    collection, home = work / "images", work / "home"
    os.environ.update(
        XDEG_IMAGES=str(collection), XDEG_HOME=str(home), DAGSTER_HOME=str(work / "dagster"),
        XDEG_PROGRESS_BAR="0",
    )
    (work / "dagster").mkdir()
    from xdeg_pipeline.cli import run_build

    def copy(batch: list[Path]) -> None:
        for src in batch:
            dst = collection / src.relative_to(args.images)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)

    try:
        copy(files[: args.n])
        t0 = time.perf_counter()
        full = run_build(quiet=True)
        t_full = time.perf_counter() - t0

        before = _hashes(home)
        copy(files[args.n : args.n + n_add])
        t0 = time.perf_counter()
        inc = run_build(quiet=True)
        t_inc = time.perf_counter() - t0
        # added files whose content is new (a copy of an image already there needs no features)
        new_content = len(_hashes(home) - before)

        t0 = time.perf_counter()
        same = run_build(quiet=True)
        t_same = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)

    computed = inc["image_features"]["images_computed"]
    stages = ("raw_images", "image_features", "pca_features", "knn_edges", "similarity_graph")
    result = {
        "images": args.n,
        "added": n_add,
        "full_build_s": round(t_full, 2),
        "incremental_build_s": round(t_inc, 2),
        "ratio": round(t_inc / t_full, 4),
        "features_computed_incremental": computed,
        "added_new_content": new_content,
        "exactly_the_added": computed == new_content,
        "unchanged_rebuild_s": round(t_same, 2),
        "features_computed_unchanged": same["image_features"]["images_computed"],
        "full_stage_s": {s: full[s].get("seconds") for s in stages},
        "incremental_stage_s": {s: inc[s].get("seconds") for s in stages},
        "pca_refit_incremental": inc["pca_features"].get("refit"),
    }
    print(f"full build of {args.n} images:      {t_full:8.2f} s")
    print(f"after adding {n_add} images:         {t_inc:8.2f} s  (ratio {result['ratio']:.3f})")
    print(f"features computed on the second run: {computed} (added {n_add} files, "
          f"{new_content} with new content, the rest copies of images already there)")
    print(f"re-run with nothing changed:         {t_same:8.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
