"""Features of image folders with each preprocessing fit, for ``benchmarks.path_quality``.

    python -m benchmarks.fit_features OUT_DIR FOLDER [FOLDER ...] [--fits pad,crop,stretch]
        [--store DIR]

Writes ``OUT_DIR/<fit>.parquet`` (``content_hash``, ``feature``: the feature table codec) with
the features of every distinct image under the folders (e.g. a collection and the edited
copies ``path_quality`` calibrates with), computed by the default extractor with that fit.
Features are cached by content hash in ``--store`` (default ``OUT_DIR/store``), one cache key
per fit. Then, per fit: ``python -m benchmarks.path_quality COLLECTION --features
OUT_DIR/<fit>.parquet``. Last line: one JSON object (images, seconds per fit).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from xdeg_pipeline.core.features.extractor import FeatureExtractor
from xdeg_pipeline.core.features.preprocess import FITS
from xdeg_pipeline.core.images.decode import content_hash
from xdeg_pipeline.core.storage.feature_store import FeatureStore, update_features
from xdeg_pipeline.core.storage.feature_table import write_feature_table

EXTS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def distinct_files(folders: list[Path]) -> tuple[list[str], list[Path]]:
    seen: dict[str, Path] = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.suffix.lower() in EXTS and not p.name.startswith("."):
                seen.setdefault(content_hash(p), p)
    return list(seen), list(seen.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fit_features",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--fits", default=",".join(FITS))
    ap.add_argument("--store", type=Path, default=None)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    store_root = args.store or args.out / "store"
    hashes, files = distinct_files(args.folders)
    print(f"{len(files)} distinct images under {[str(f) for f in args.folders]}")
    timing = {}
    with tempfile.TemporaryDirectory(prefix="xdeg-models-") as models:
        for fit in args.fits.split(","):
            t0 = time.perf_counter()
            fx = FeatureExtractor(fit=fit, model_cache=models)
            store = FeatureStore(store_root, fx.cache_key)
            res = update_features(store, list(zip(hashes, files, strict=True)), fx)
            ok = [h for h in hashes if h not in res.failed]
            write_feature_table(ok, store.get(ok), args.out / f"{fit}.parquet")
            timing[fit] = round(time.perf_counter() - t0, 1)
            print(f"{fit}: {len(ok)} images ({res.computed} computed, {len(res.failed)} failed)"
                  f" with {fx.runtime} in {timing[fit]} s -> {args.out / f'{fit}.parquet'}")
    print(json.dumps({"images": len(files), "seconds": timing}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
