"""Reading and writing the pipeline's parquet tables (feature matrices, rejects)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from xdeg_pipeline.core.atomic import write_with

REJECTED_COLUMNS = ["name", "stage", "reason", "detail"]


def _feature_arrow(hashes: list[str], X: np.ndarray) -> pa.Table:
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, dim = X.shape if X.ndim == 2 else (0, 0)
    values = pa.array(X.reshape(-1), type=pa.float32())
    feature = (
        pa.FixedSizeListArray.from_arrays(values, dim)
        if n
        else pa.array([], pa.list_(pa.float32()))
    )
    return pa.table({"content_hash": pa.array(list(hashes), pa.string()), "feature": feature})


def write_feature_table(hashes: list[str], X: np.ndarray, path: Path) -> Path:
    """Write ``content_hash`` + ``feature`` (fixed-size list<float32>) atomically."""
    table = _feature_arrow(hashes, X)
    return write_with(path, lambda p: pq.write_table(table, p))


def write_feature_parts(parts: Iterable[tuple[list[str], np.ndarray]], path: Path) -> int:
    """Stream several (hashes, X) parts into one feature table (atomic; one part in memory
    at a time). Empty parts are skipped; returns the row count."""
    rows = 0

    def _write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        try:
            for hashes, X in parts:
                if not len(hashes):
                    continue
                table = _feature_arrow(hashes, X)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(hashes)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pq.write_table(_feature_arrow([], np.zeros((0, 0), np.float32)), tmp)

    write_with(path, _write)
    return rows


def read_feature_hashes(path: Path) -> list[str]:
    """Only the ``content_hash`` column of a feature table (no feature values read)."""
    return pq.read_table(path, columns=["content_hash"]).column("content_hash").to_pylist()


def read_feature_table(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a feature table back as (hashes, float32 matrix)."""
    table = pq.read_table(path)
    hashes = table.column("content_hash").to_pylist()
    col = table.column("feature").combine_chunks()
    if len(hashes) == 0:
        return [], np.zeros((0, 0), np.float32)
    flat = col.flatten().to_numpy(zero_copy_only=False)
    return hashes, np.asarray(flat, dtype=np.float32).reshape(len(hashes), -1)


def read_rejected(path: Path) -> pd.DataFrame:
    """The rejected-images table ({} columns when none yet)."""
    if path.exists():
        return pd.read_parquet(path)
    return pd.DataFrame(columns=REJECTED_COLUMNS)


def replace_rejected(path: Path, stage: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Replace one stage's rows in the rejected table; returns the whole table."""
    from xdeg_pipeline.core.atomic import write_parquet

    current = read_rejected(path)
    current = current[current["stage"] != stage]
    rows = rows.assign(stage=stage)[REJECTED_COLUMNS] if len(rows) else rows
    merged = pd.concat([current, rows], ignore_index=True) if len(rows) else current
    merged = (
        merged[REJECTED_COLUMNS].astype(str).sort_values(["stage", "name"]).reset_index(drop=True)
    )
    write_parquet(merged, path)
    return merged
