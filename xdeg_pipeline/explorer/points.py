"""The map's points as arrays, read at start from three tables (no graph): what the page draws
first, sent as one binary answer (``/api/map/points``) instead of JSON per point.

The binary layout (little-endian, ``n`` points in map order): ``x`` float32[n], ``y``
float32[n] (centred and scaled so the map's larger side spans -0.5..0.5), ``sheet`` int32[n]
and ``slot`` int32[n] (the atlas cell; -1 without one). A point's name and content hash come
one at a time from ``/api/map/point?i=K`` (a click, a tooltip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xdeg_pipeline.core.pictures.atlases import CELL, SIDE
from xdeg_pipeline.core.pictures.collection_map import MAP_COLUMNS
from xdeg_pipeline.core.storage.layout import Layout

FORMAT = "x:float32[n] y:float32[n] sheet:int32[n] slot:int32[n], little-endian"


@dataclass
class MapPoints:
    """Every image on the map once: its content hash, first name, position and atlas cell."""

    hashes: np.ndarray  # bytes (S64)
    names: list[str]
    u: np.ndarray  # float32, centred, the larger side spanning -0.5..0.5
    v: np.ndarray
    sheet: np.ndarray  # int32, -1 without an atlas cell
    slot: np.ndarray
    sheets: list[dict] = field(default_factory=list)  # sheet, sha256, count
    cell: int | None = None
    side: int | None = None
    _index: dict[bytes, int] | None = None

    @property
    def atlas_files(self) -> set[str]:
        """The sha256 names of the atlas sheets (the only ones served)."""
        return {s["sha256"] for s in self.sheets}

    @property
    def n(self) -> int:
        return len(self.hashes)

    def index_of(self, content_hash: str) -> int | None:
        """The point of a content hash (None when it is not on the map)."""
        if self._index is None:
            self._index = {h: i for i, h in enumerate(self.hashes.tolist())}
        return self._index.get(content_hash.encode("ascii", "replace"))

    def point(self, i: int) -> dict:
        """What a click or a tooltip shows of point ``i``."""
        return {"index": i, "hash": self.hashes[i].decode("ascii"), "name": self.names[i],
                "u": float(self.u[i]), "v": float(self.v[i])}

    def binary(self) -> bytes:
        """The arrays as the page reads them (:data:`FORMAT`)."""
        parts = (self.u.astype("<f4"), self.v.astype("<f4"), self.sheet.astype("<i4"),
                 self.slot.astype("<i4"))
        return b"".join(p.tobytes() for p in parts)


def _normalised(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(x):
        return x.astype(np.float32), y.astype(np.float32)
    lo_x, hi_x, lo_y, hi_y = x.min(), x.max(), y.min(), y.max()
    span = max(hi_x - lo_x, hi_y - lo_y, 1e-9)
    return (((x - (lo_x + hi_x) / 2) / span).astype(np.float32),
            ((y - (lo_y + hi_y) / 2) / span).astype(np.float32))


def _column(path: Path, names: list[str]) -> pa.Table:
    table = pq.read_table(path)
    missing = [c for c in names if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column {', '.join(missing)}")
    return table.select(names)


def load_points(home: Path) -> MapPoints:
    """The points of the data folder ``home``: the map's rows whose content the manifest
    names (the first name in name order), with their atlas cells (arrow's hash joins: no
    Python object per row but the names)."""
    layout = Layout(home)
    manifest = _column(layout.raw_images, ["name", "content_hash"])
    manifest = manifest.take(pc.sort_indices(manifest["name"]))
    empty = pa.table({"content_hash": pa.array([], pa.string()), "x": pa.array([], pa.float64()),
                      "y": pa.array([], pa.float64())})
    table = (_column(layout.collection_map, list(MAP_COLUMNS))
             if layout.collection_map.exists() else empty)
    first = pc.index_in(table["content_hash"], value_set=manifest["content_hash"])
    rows = np.flatnonzero(first.is_valid().to_numpy(zero_copy_only=False))
    _, once = np.unique(first.to_numpy(zero_copy_only=False)[rows].astype(np.int64),
                        return_index=True)  # a hash twice on the map: its first row
    rows = np.sort(rows[once])
    table = table.take(pa.array(rows, pa.int64()))
    names = manifest["name"].take(first.take(pa.array(rows, pa.int64()))).to_pylist()
    sheet = np.full(len(rows), -1, np.int32)
    slot = np.full(len(rows), -1, np.int32)
    if layout.atlas_index.exists():
        cells = _column(layout.atlas_index, ["content_hash", "sheet", "slot"])
        at = pc.index_in(table["content_hash"], value_set=cells["content_hash"])
        ok = at.is_valid().to_numpy(zero_copy_only=False)
        where = at.to_numpy(zero_copy_only=False)[ok].astype(np.int64)
        sheet[ok] = cells["sheet"].to_numpy()[where]
        slot[ok] = cells["slot"].to_numpy()[where]
    u, v = _normalised(table["x"].to_numpy().astype(np.float64),
                       table["y"].to_numpy().astype(np.float64))
    hashes = table["content_hash"].to_numpy(zero_copy_only=False).astype("S64")
    points = MapPoints(hashes, names, u, v, sheet, slot)
    if layout.atlas_sheets.exists():
        table = pd.read_parquet(layout.atlas_sheets)
        points.sheets = [{"sheet": int(r.sheet), "sha256": str(r.sha256), "count": int(r.count)}
                         for r in table.itertuples()]
        points.cell = int(table["cell"].iloc[0]) if len(table) else CELL
        points.side = int(table["side"].iloc[0]) if len(table) else SIDE
    return points
