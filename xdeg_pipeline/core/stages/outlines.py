"""image_outlines: the outline of every image (:mod:`xdeg_pipeline.core.images.outline`), drawn
from its thumbnail, so the graph can mark the steps between one drawing's colourings.

An outline is made once per content hash: the previous table's rows are kept for the images
still there and only new content is read (its thumbnail, made by the feature step or the
thumbnails stage). An image without a thumbnail (its file could not be read) has no outline,
and no step to or from it is marked recoloured.
"""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa

from xdeg_pipeline.core.images import outline as outlines
from xdeg_pipeline.core.pictures.thumbnails import THUMB_SIZE, ThumbnailStore
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.layout import Layout

NAME = "image_outlines"
VERSION = 1
PROGRESS_EVERY = 256  # images a worker draws between two progress reports
MAX_WORKERS = 4


def image_outlines(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Outlines of the images that have none yet (reused while the thumbnails are unchanged)."""
    files, report = settings.layout, report or Reporter()
    stage = Stage(NAME, partial(_make, report), upstream=("raw_images", "thumbnails"),
                  params=(VERSION, THUMB_SIZE, outlines.SIDE, outlines.POOL),
                  outputs=(files.image_outlines,))
    return run_stage(stage, files, report)


def _make(report: Reporter, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    hashes = sorted(set(pd.read_parquet(files.raw_images, columns=["content_hash"])
                        ["content_hash"].astype(str)))
    kept = previous_outlines(files, inputs.log)
    store = ThumbnailStore(files.thumbnails_dir)
    todo = [h for h in hashes if h not in kept]
    progress = report.progress(NAME) if todo else None
    made: dict[str, bytes] = {}
    chunks = [todo[i:i + PROGRESS_EVERY] for i in range(0, len(todo), PROGRESS_EVERY)]
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, len(chunks)))
    done = 0
    with ThreadPoolExecutor(workers) as pool:  # decoding and numpy release the GIL
        for chunk, drawn in zip(chunks, pool.map(partial(_draw, store), chunks), strict=True):
            made.update(drawn)
            done += len(chunk)
            if progress is not None:
                progress(done, len(todo))
    rows = {h: kept[h] for h in hashes if h in kept} | made
    order = sorted(rows)
    table = pd.DataFrame({"content_hash": pd.Series(order, dtype=str),
                          "outline": pd.Series([rows[h] for h in order], dtype=object)})
    missing = len(hashes) - len(rows)
    if missing:
        inputs.warn(f"image_outlines: {missing} image(s) without a thumbnail have no outline")
    state = {"images": len(hashes), "outlines": len(rows), "without_outline": missing}
    return Outcome(state=state, writes={files.image_outlines: table},
                   facts={"made": len(made), "reused": len(rows) - len(made)})


def _draw(store: ThumbnailStore, hashes: list[str]) -> dict[str, bytes]:
    """The outlines of these hashes' thumbnails (none for a hash without one)."""
    drawn = {}
    for h in hashes:
        img = store.open(h)
        if img is not None:
            drawn[h] = outlines.outline(img).tobytes()
    return drawn


def _table(files: Layout, log=None) -> pd.DataFrame | None:
    """The table a previous run wrote, its rows with a whole outline (None when there is none
    or it cannot be read: every outline is made again)."""
    if not files.image_outlines.exists():
        return None
    try:
        table = pd.read_parquet(files.image_outlines)
    except (OSError, ValueError, pa.ArrowException, pickle.UnpicklingError) as exc:
        if log is not None:
            log(f"image_outlines: the previous table could not be read ({exc}); made again")
        return None
    whole = table["outline"].map(lambda o: o is not None and len(o) == outlines.CELLS)
    return table[whole.astype(bool)]


def previous_outlines(files: Layout, log=None) -> dict[str, bytes]:
    """content hash -> outline bytes of the table a previous run wrote ({} when none)."""
    table = _table(files, log)
    if table is None:
        return {}
    return {str(h): bytes(o) for h, o in zip(table["content_hash"], table["outline"])}


def outline_matrix(files: Layout, hashes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The outlines of ``hashes`` as an (n, CELLS) uint8 matrix, and which rows have one."""
    out = np.zeros((len(hashes), outlines.CELLS), dtype=np.uint8)
    table = _table(files)
    if table is None or not len(table):
        return out, np.zeros(len(hashes), dtype=bool)
    rows = pd.Index(table["content_hash"].astype(str)).get_indexer(hashes)
    has = rows >= 0
    stored = np.frombuffer(b"".join(map(bytes, table["outline"])), dtype=np.uint8)
    out[has] = np.take(stored.reshape(-1, outlines.CELLS), rows[has], axis=0)
    return out, has
