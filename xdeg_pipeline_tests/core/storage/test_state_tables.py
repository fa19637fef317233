"""Fingerprints, stage state and the parquet tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.storage.state import fingerprint, is_current, read_state, write_state
from xdeg_pipeline.core.storage.tables import (
    read_feature_table,
    read_rejected,
    replace_rejected,
    write_feature_table,
)


def test_fingerprint_is_stable_and_order_sensitive() -> None:
    assert fingerprint("a", 1, {"x": [1, 2]}) == fingerprint("a", 1, {"x": [1, 2]})
    assert fingerprint("a", "b") != fingerprint("b", "a")


def test_state_roundtrip_and_currentness(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"x")
    write_state(tmp_path, "stage", {"input_fingerprint": "abc", "n": 3})
    assert read_state(tmp_path, "stage")["n"] == 3
    assert is_current(tmp_path, "stage", "abc", [out]) is not None
    assert is_current(tmp_path, "stage", "other", [out]) is None
    out.unlink()
    assert is_current(tmp_path, "stage", "abc", [out]) is None
    assert read_state(tmp_path, "missing") == {}


def test_feature_table_roundtrip_is_pandas_readable(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    path = write_feature_table([f"h{i}" for i in range(5)], X, tmp_path / "f.parquet")
    hashes, Y = read_feature_table(path)
    assert hashes == [f"h{i}" for i in range(5)]
    np.testing.assert_array_equal(X, Y)
    df = pd.read_parquet(path)
    assert len(df["feature"].iloc[0]) == 7


def test_rejected_rows_replaced_per_stage(tmp_path: Path) -> None:
    path = tmp_path / "rejected.parquet"
    assert read_rejected(path).empty
    scan = pd.DataFrame({"name": ["a.jpg"], "reason": ["truncated"], "detail": ["x"]})
    feats = pd.DataFrame({"name": ["b.png"], "reason": ["decode"], "detail": ["y"]})
    replace_rejected(path, "scan", scan)
    replace_rejected(path, "features", feats)
    replace_rejected(path, "scan", scan.iloc[0:0])
    table = read_rejected(path)
    assert table["name"].tolist() == ["b.png"] and table["stage"].tolist() == ["features"]
