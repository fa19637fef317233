"""A benchmark collection: its distinct images, their topic folders and their CNN features.

Images are the files under a folder (any depth, the project's image extensions, hidden files
left out), one per content hash (the first path in sorted order wins, as in the pipeline).
An image's *topic* is its first folder below the root ("" for files at the root). Features
come from the project's extractor (``FeatureExtractor``, CPU) and are cached by content hash
in a :class:`~xdeg_pipeline.core.storage.feature_store.FeatureStore` (default root
``<tmp>/xdeg-bench/features``: :func:`benchmarks.demo_collection.cache_root`), or from a
features file made elsewhere
(a parquet of ``content_hash`` and ``feature``; e.g. another preprocessing), which then must
hold every image of the folder.

    python -m benchmarks.quality_data [FOLDER] [--store DIR] [--backbone NAME] [--limit N]

computes (or confirms) the cached features of FOLDER (default: the demo collection, ``--limit``
images of it) and prints, last, one JSON object (the collection, images, topics, seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.demo_collection import cache_root, real_collections
from xdeg_pipeline.core.images.decode import content_hash
from xdeg_pipeline.core.images.formats import IMAGE_EXTENSIONS
from xdeg_pipeline.core.storage.feature_store import FeatureStore, update_features
from xdeg_pipeline.core.storage.feature_table import read_feature_hashes, read_feature_table


def default_store(given: Path | None = None) -> Path:
    """The feature store's root: ``given``, else ``features`` under the benchmarks' cache."""
    return given if given is not None else cache_root() / "features"


@dataclass
class Collection:
    """Distinct images of a folder: paths, content hashes, topics and features (same order)."""

    root: Path
    paths: list[Path]
    hashes: list[str]
    topics: list[str]
    features: np.ndarray  # (n, dim) float32

    @property
    def n(self) -> int:
        return len(self.paths)

    def has_topics(self) -> bool:
        """True when the images sit in more than one topic folder."""
        return len(set(self.topics)) > 1


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (sorted; hidden files and folders left out)."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or not p.is_file():
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            out.append(p)
    return out


def distinct_images(root: Path) -> tuple[list[Path], list[str]]:
    """One path per content hash, first in sorted order."""
    seen: dict[str, Path] = {}
    for p in list_images(root):
        seen.setdefault(content_hash(p), p)
    return list(seen.values()), list(seen)


def _topic(root: Path, path: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else ""


def file_hashes(path: Path) -> list[str]:
    """The content hashes a feature table (``content_hash``, ``feature`` parquet) holds."""
    return read_feature_hashes(path)


def features_from_file(path: Path, hashes: list[str]) -> np.ndarray:
    """Rows of a feature table for ``hashes``, in that order."""
    stored, feats = read_feature_table(path)
    row = {h: i for i, h in enumerate(stored)}
    missing = [h for h in hashes if h not in row]
    if missing:
        raise SystemExit(f"{path}: no features for {len(missing)} of {len(hashes)} images "
                         f"(e.g. {missing[0]})")
    return feats[[row[h] for h in hashes]].astype(np.float32)


def cached_features(paths: list[Path], hashes: list[str], store_root: Path,
                    backbone: str) -> tuple[list[int], np.ndarray]:
    """Features from the store, computing (and storing) the missing ones: the indices of the
    images that have features (failures are reported and left out) and their rows."""
    from xdeg_pipeline.core.features.extractor import FeatureExtractor

    extractor = FeatureExtractor(backbone=backbone, device="cpu")
    store = FeatureStore(store_root, extractor.cache_key)
    result = update_features(store, list(zip(hashes, paths, strict=True)), extractor, log=print)
    for h, why in result.failed.items():
        print(f"features: left out {paths[hashes.index(h)]}: {why}")
    keep = [i for i, h in enumerate(hashes) if h not in result.failed]
    return keep, store.get([hashes[i] for i in keep])


def collection_outlines(paths: list[Path], hashes: list[str], cache: Path | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The outline of every image as the pipeline draws it (from its thumbnail:
    :func:`~xdeg_pipeline.core.images.outline.outline`) as an (n, CELLS) uint8 matrix, and which
    rows have one; cached by content hash under ``cache`` (default ``<cache root>/outlines``)."""
    import io

    from PIL import Image

    from xdeg_pipeline.core.images.outline import CELLS, outline
    from xdeg_pipeline.core.pictures.thumbnails import make_thumbnail

    folder = (cache or cache_root()) / "outlines"
    folder.mkdir(parents=True, exist_ok=True)
    out = np.zeros((len(paths), CELLS), dtype=np.uint8)
    has = np.zeros(len(paths), dtype=bool)
    for i, (path, h) in enumerate(zip(paths, hashes, strict=True)):
        file = folder / f"{h}.bin"
        data = file.read_bytes() if file.exists() else b""
        if len(data) != CELLS:
            try:
                with Image.open(io.BytesIO(make_thumbnail(Path(path)))) as im:
                    data = outline(im.convert("RGB")).tobytes()
            except (OSError, ValueError):  # unreadable: no outline, as in the pipeline
                continue
            file.write_bytes(data)
        out[i] = np.frombuffer(data, dtype=np.uint8)
        has[i] = True
    return out, has


def load_collection(root: Path, features: Path | None = None, store_root: Path | None = None,
                    backbone: str = "efficientnet_lite0") -> Collection:
    """The distinct images of ``root`` with their features (from ``features`` or the store)."""
    root = root.resolve()
    if not root.is_dir():
        raise SystemExit(f"not a folder: {root}")
    t0 = time.perf_counter()
    paths, hashes = distinct_images(root)
    if features is not None:
        feats = features_from_file(features, hashes)
    else:
        keep, feats = cached_features(paths, hashes, default_store(store_root), backbone)
        paths, hashes = [paths[i] for i in keep], [hashes[i] for i in keep]
    print(f"collection {root}: {len(paths)} distinct images, features {feats.shape} "
          f"in {time.perf_counter() - t0:.1f} s")
    return Collection(root, paths, hashes, [_topic(root, p) for p in paths],
                      np.asarray(feats, dtype=np.float32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", help="default: the demo collection")
    ap.add_argument("--store", type=Path, default=None, help="default <tmp>/xdeg-bench/features")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--limit", type=int, default=None, help="images of the demo collection")
    args = ap.parse_args()
    (folder,), which = real_collections([args.folder] if args.folder else None, args.limit)
    print(f"collection: {which}")
    t0 = time.perf_counter()
    c = load_collection(folder, store_root=args.store, backbone=args.backbone)
    print(f"{c.n} images, {len(set(c.topics))} topic folders")
    print(json.dumps({"collection": which, "images": c.n, "topics": len(set(c.topics)),
                      "feature_dim": int(c.features.shape[1]),
                      "seconds": round(time.perf_counter() - t0, 2)}))


if __name__ == "__main__":
    main()
