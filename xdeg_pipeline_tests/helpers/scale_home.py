"""A synthetic data folder of any size for measuring the explorer (``benchmarks.explorer_scale``):
no image files, random clustered vectors and a graph built by core, the map from the vectors,
and quick synthetic atlas sheets (a flat colour per cell) packed in map order, one sheet per
region of the map, as a map-ordered atlas build would pack them."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from xdeg_pipeline.core.graph.build import build_graph, save_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline.core.pictures.atlases import INDEX_COLUMNS, SHEET_COLUMNS, AtlasSet
from xdeg_pipeline.core.pictures.atlases import atlas_tables as stored_tables
from xdeg_pipeline.core.pictures.collection_map import write_map
from xdeg_pipeline.core.storage.atomic import write_bytes, write_parquet
from xdeg_pipeline.core.storage.layout import Layout

CELL, SIDE = 64, 32


def _hashes(n: int) -> list[str]:
    return [hashlib.sha256(f"xdeg-scale-{i}".encode()).hexdigest() for i in range(n)]


def _vectors(n: int, rng: np.random.Generator, dim: int = 8) -> np.ndarray:
    """Clustered vectors: 64 blobs of different spread (the map is their first two axes)."""
    centres = rng.normal(size=(64, dim)) * 4
    which = rng.integers(0, 64, n)
    spread = rng.uniform(0.3, 1.2, 64)[which, None]
    return (centres[which] + rng.normal(size=(n, dim)) * spread).astype(np.float32)


def map_order(xy: np.ndarray, per_sheet: int) -> np.ndarray:
    """Point indices in map order: bands of rows, each band left to right, so that
    ``per_sheet`` consecutive points lie in one compact region."""
    n = len(xy)
    bands = max(1, int(round(np.sqrt(n / per_sheet))))
    ry = np.argsort(np.argsort(xy[:, 1], kind="stable"), kind="stable")
    band = ry * bands // max(n, 1)
    return np.lexsort((xy[:, 0], band))


def _sheet(colours: np.ndarray) -> bytes:
    """One sheet of flat-colour cells with a darker centre (WebP bytes)."""
    rows = -(-len(colours) // SIDE)
    grid = np.full((rows * SIDE, 3), 255, np.uint8)
    grid[:len(colours)] = colours
    cells = grid.reshape(rows, SIDE, 3)
    img = np.repeat(np.repeat(cells, CELL, axis=0), CELL, axis=1)
    inner = (cells // 2).repeat(CELL // 2, axis=0).repeat(CELL // 2, axis=1)
    view = img.reshape(rows, CELL, SIDE, CELL, 3)
    view[:, CELL // 4:3 * CELL // 4, :, CELL // 4:3 * CELL // 4] = inner.reshape(
        rows, CELL // 2, SIDE, CELL // 2, 3)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="WEBP", quality=40, method=0)
    return buf.getvalue()


def _atlases(layout: Layout, hashes: list[str], xy: np.ndarray,
             rng: np.random.Generator) -> int:
    per_sheet = SIDE * SIDE
    order = map_order(xy, per_sheet)
    colours = rng.integers(40, 256, (len(hashes), 3)).astype(np.uint8)
    sheet_of = np.empty(len(hashes), np.int32)
    slot_of = np.empty(len(hashes), np.int32)
    rows = []
    for s, start in enumerate(range(0, len(order), per_sheet)):
        members = order[start:start + per_sheet]
        sheet_of[members], slot_of[members] = s, np.arange(len(members))
        data = _sheet(colours[members])
        sha = hashlib.sha256(data).hexdigest()
        write_bytes(data, layout.atlas_dir / f"{sha}.webp")
        rows.append((s, f"synthetic-{s}", sha, len(members)))
    index = pd.DataFrame({"content_hash": hashes, "sheet": sheet_of, "slot": slot_of})
    atlases = AtlasSet(index[INDEX_COLUMNS], pd.DataFrame(rows, columns=SHEET_COLUMNS),
                       CELL, SIDE)
    index_table, sheet_table = stored_tables(atlases)
    write_parquet(index_table, layout.atlas_index)
    write_parquet(sheet_table, layout.atlas_sheets)
    return len(rows)


def build_scale_home(root: Path, n: int, seed: int = 0, k: int = 10) -> dict:
    """A data folder of ``n`` synthetic images in ``root/home`` (``root/images`` stays
    empty: there are no image files, only what the explorer's map and path finder read)."""
    rng = np.random.default_rng(seed)
    images, home = Path(root) / "images", Path(root) / "home"
    images.mkdir(parents=True, exist_ok=True)
    layout = Layout(home)
    layout.home.mkdir(parents=True, exist_ok=True)
    hashes = _hashes(n)
    names = [f"g{i // 1000:04d}/s{i:07d}.png" for i in range(n)]
    write_parquet(pd.DataFrame({"name": names, "content_hash": hashes}), layout.raw_images)
    X = _vectors(n, rng)
    xy = X[:, :2] + rng.normal(size=(n, 2)).astype(np.float32) * 0.05
    write_map(pd.DataFrame({"content_hash": hashes, "x": xy[:, 0], "y": xy[:, 1]}),
              layout.collection_map)
    sheets = _atlases(layout, hashes, xy, rng)
    edges = knn_edges(X, k=k)
    graph = attach_hub_load(build_graph(edges, X, vertex_attrs={
        "content_hash": hashes, "name": names, "names": [[x] for x in names]}))
    del edges
    save_graph(graph, layout.similarity_graph)  # as the similarity_graph stage writes it
    return {"images": images, "home": home, "names": names, "sheets": sheets}
