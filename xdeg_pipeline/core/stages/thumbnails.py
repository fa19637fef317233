"""thumbnails: a small WebP per content hash, made once and kept (only new content costs
anything), and the atlas sheets the map draws from (only sheets that changed are drawn)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.images.files import files_by_hash
from xdeg_pipeline.core.pictures import atlases as atlas
from xdeg_pipeline.core.pictures.thumbnails import THUMB_SIZE, ThumbnailStore
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.faults import DataFolderFault

NAME = "thumbnails"
VERSION = 1
MAX_WORKERS = 4
SHOWN_FAILURES = 20


def thumbnails(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Thumbnails of the images of raw_images that have none, then the atlases (reused while
    raw_images is unchanged)."""
    files, report = settings.layout, report or Reporter()
    stage = Stage(NAME, partial(_make, settings.images_root, report), upstream=("raw_images",),
                  params=(VERSION, THUMB_SIZE, atlas.CELL, atlas.SIDE),
                  outputs=(files.atlas_index, files.atlas_sheets))
    return run_stage(stage, files, report)


def _make(images_root: Path, report: Reporter, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    manifest = pd.read_parquet(files.raw_images)
    by_hash = files_by_hash(manifest, images_root)
    store = ThumbnailStore(files.thumbnails_dir)
    stored = atlas.load_atlases(files.atlas_index, files.atlas_sheets)
    present = store.present()
    by_features = _made_by_features(by_hash, stored, present)
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    missing = [h for h in sorted(by_hash) if h not in present]  # paths made for these only
    stats = store.build([(h, by_hash[h]) for h in missing], workers=workers,
                        progress=report.progress("thumbnails"), present=present)
    stats.reused += len(by_hash) - len(missing)
    if stats.failed and not Path(images_root).is_dir():
        raise DataFolderFault(f"the collection folder {images_root} vanished while making "
                              "thumbnails; reconnect or restore it, then run `xdeg build` again")
    atlas.remove_unlisted(stored, files.atlas_dir)  # sheets replaced by the build before
    sheets = atlas.build_atlases(sorted(by_hash), store, files.atlas_dir, previous=stored)
    if store.damaged:  # files that did not decode: made again, their sheets drawn again
        damaged = sorted(store.damaged)
        report.warn(f"thumbnails: {len(damaged)} damaged thumbnail file(s) made again "
                    f"(first: {by_hash[damaged[0]]})")
        again = store.build([(h, by_hash[h]) for h in damaged], workers=workers)
        stats.made += again.made
        stats.failed.update(again.failed)
        sheets = atlas.build_atlases(sorted(by_hash), store, files.atlas_dir, previous=stored)
    for h, reason in list(stats.failed.items())[:SHOWN_FAILURES]:
        report.warn(f"no thumbnail for {by_hash[h]}: {reason}")
    index_table, sheet_table = atlas.atlas_tables(sheets)
    state = {"images": len(by_hash), "sheets": len(sheet_table),
             "without_thumbnail": len(stats.failed)}
    facts = {"made": stats.made + by_features, "made_by_features": by_features,
             "reused": stats.reused - by_features, "sheets_drawn": sheets.written}
    return Outcome(state=state, facts=facts,
                   writes={files.atlas_index: index_table, files.atlas_sheets: sheet_table})


def _made_by_features(by_hash: dict, stored: atlas.AtlasSet | None, present: set[str]) -> int:
    """How many images new since the last atlases already have their thumbnail (``present``:
    the hashes that have one): the feature step made it from the pixels it decoded (counted as
    made in this build, not reused)."""
    known = set() if stored is None else set(stored.index["content_hash"])
    return sum(1 for h in by_hash if h not in known and h in present)
