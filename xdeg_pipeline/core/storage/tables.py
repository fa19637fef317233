"""Reading and writing the pipeline's parquet tables (feature matrices, rejects).

The feature-table codec lives in :mod:`xdeg_pipeline.core.storage.feature_table`; its functions are
importable from here too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.storage.feature_table import (
    read_feature_hashes,
    read_feature_table,
    write_feature_parts,
    write_feature_table,
)

__all__ = [
    "REJECTED_COLUMNS",
    "read_feature_hashes",
    "read_feature_table",
    "read_rejected",
    "replace_rejected",
    "write_feature_parts",
    "write_feature_table",
]

REJECTED_COLUMNS = ["name", "stage", "reason", "detail"]


def read_rejected(path: Path) -> pd.DataFrame:
    """The rejected-images table ({} columns when none yet)."""
    if path.exists():
        return pd.read_parquet(path)
    return pd.DataFrame(columns=REJECTED_COLUMNS)


def replace_rejected(path: Path, stage: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Replace one stage's rows in the rejected table; returns the whole table."""
    from xdeg_pipeline.core.storage.atomic import write_parquet

    current = read_rejected(path)
    current = current[current["stage"] != stage]
    rows = rows.assign(stage=stage)[REJECTED_COLUMNS] if len(rows) else rows
    merged = pd.concat([current, rows], ignore_index=True) if len(rows) else current
    merged = (
        merged[REJECTED_COLUMNS].astype(str).sort_values(["stage", "name"]).reset_index(drop=True)
    )
    write_parquet(merged, path)
    return merged
