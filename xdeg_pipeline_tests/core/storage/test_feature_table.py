"""The one (content_hash, feature) table codec: typed writes, old-encoding reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xdeg_pipeline.core.storage import tables
from xdeg_pipeline.core.storage.feature_store import CHUNK_GLOB, MAIN_FILE, FeatureStore
from xdeg_pipeline.core.storage.feature_table import (
    from_arrow,
    read_feature_hashes,
    read_feature_table,
    to_arrow,
    write_feature_parts,
    write_feature_table,
)

KEY = "efficientnet_lite0-wabc-v1-s224"


def _rows(n: int, dim: int = 6, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"{seed}h{i:03d}" for i in range(n)], rng.normal(size=(n, dim)).astype(np.float32)


def write_old_encoding(hashes: list[str], X: np.ndarray, path: Path) -> None:
    """A feature file exactly as the feature cache wrote it before: ``list<float32>``."""
    n, dim = X.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * dim, type=pa.int32())
    feature = pa.ListArray.from_arrays(offsets, pa.array(X.reshape(-1), type=pa.float32()))
    pq.write_table(pa.table({"content_hash": pa.array(hashes, pa.string()),
                             "feature": feature}), path)


def test_one_codec_importable_from_tables() -> None:
    assert tables.read_feature_table is read_feature_table
    assert tables.write_feature_table is write_feature_table
    assert tables.write_feature_parts is write_feature_parts
    assert tables.read_feature_hashes is read_feature_hashes


def test_written_type_is_fixed_size_float32(tmp_path: Path) -> None:
    hashes, X = _rows(5)
    path = write_feature_table(hashes, X.astype(np.float64), tmp_path / "f.parquet")
    schema = pq.read_schema(path)
    assert schema.field("content_hash").type == pa.string()
    assert schema.field("feature").type == pa.list_(pa.float32(), 6)
    got_h, got = read_feature_table(path)
    assert got_h == hashes and got.dtype == np.float32
    np.testing.assert_array_equal(got, X)
    assert read_feature_hashes(path) == hashes
    assert np.asarray(pd.read_parquet(path)["feature"].iloc[2]).tolist() == X[2].tolist()


def test_empty_tables(tmp_path: Path) -> None:
    path = write_feature_table([], np.zeros((0, 6), np.float32), tmp_path / "e.parquet")
    assert pq.read_schema(path).field("feature").type == pa.list_(pa.float32(), 6)
    hashes, X = read_feature_table(path)
    assert hashes == [] and X.shape == (0, 0)
    assert write_feature_parts(iter([]), tmp_path / "none.parquet") == 0
    hashes, X = read_feature_table(tmp_path / "none.parquet")
    assert hashes == [] and X.shape == (0, 0)


def test_parts_stream_into_one_table(tmp_path: Path) -> None:
    parts = [_rows(3, seed=1), ([], np.zeros((0, 6), np.float32)), _rows(4, seed=2)]
    assert write_feature_parts(iter(parts), tmp_path / "p.parquet") == 7
    assert pq.ParquetFile(tmp_path / "p.parquet").num_row_groups == 2
    hashes, X = read_feature_table(tmp_path / "p.parquet")
    assert hashes == parts[0][0] + parts[2][0]
    np.testing.assert_array_equal(X, np.concatenate([parts[0][1], parts[2][1]]))


def test_old_encoding_still_reads(tmp_path: Path) -> None:
    hashes, X = _rows(4, dim=9)
    write_old_encoding(hashes, X, tmp_path / "old.parquet")
    assert pq.read_schema(tmp_path / "old.parquet").field("feature").type == pa.list_(
        pa.float32())
    got_h, got = read_feature_table(tmp_path / "old.parquet")
    assert got_h == hashes and got.dtype == np.float32
    np.testing.assert_array_equal(got, X)


def test_bad_rows_are_errors() -> None:
    ragged = pa.table({"content_hash": ["a", "b"],
                       "feature": pa.array([[1.0, 2.0], [3.0]], pa.list_(pa.float32()))})
    with pytest.raises(ValueError, match="different lengths"):
        from_arrow(ragged)
    nulls = pa.table({"content_hash": ["a", "b"],
                      "feature": pa.array([[1.0, 2.0], None], pa.list_(pa.float32()))})
    with pytest.raises(ValueError, match="null"):
        from_arrow(nulls)
    hashes, X = from_arrow(to_arrow(["a"], np.ones((1, 3))))
    assert hashes == ["a"] and X.tolist() == [[1.0, 1.0, 1.0]]


def test_existing_cache_in_old_encoding_stays_valid(tmp_path: Path) -> None:
    """A cache folder written before (main file + chunk in list<float32>) is read, added to
    and compacted into the typed encoding without losing a row."""
    store = FeatureStore(tmp_path, KEY)
    store.folder.mkdir(parents=True)
    h1, f1 = _rows(5, seed=1)
    h2, f2 = _rows(3, seed=2)
    write_old_encoding(h1, f1, store.folder / MAIN_FILE)
    write_old_encoding(h2, f2, store.folder / "chunk-00000000000000000001-abcdef01.parquet")
    ragged = pa.table({"content_hash": ["r1", "r2"],
                       "feature": pa.array([[1.0] * 6, [2.0]], pa.list_(pa.float32()))})
    pq.write_table(ragged, store.folder / "chunk-00000000000000000002-bad00000.parquet")
    old = FeatureStore(tmp_path, KEY)
    assert old.known() == set(h1) | set(h2) and old.dim == 6 and len(old.unreadable) == 1
    np.testing.assert_array_equal(old.get([h2[1], h1[4]]), np.stack([f2[1], f1[4]]))
    h3, f3 = _rows(2, seed=3)
    old.add(h3, f3)
    old.compact()
    assert [p.name for p in old.folder.glob("*.parquet")] == [MAIN_FILE]
    assert not list(old.folder.glob(CHUNK_GLOB))
    assert pq.read_schema(old.folder / MAIN_FILE).field("feature").type == pa.list_(
        pa.float32(), 6)
    again = FeatureStore(tmp_path, KEY)
    order = h1 + h2 + h3
    np.testing.assert_array_equal(again.get(order), np.concatenate([f1, f2, f3]))


def test_a_table_read_again_is_not_decoded_again_and_a_rewrite_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xdeg_pipeline.core.storage import feature_table

    monkeypatch.setattr(feature_table, "_READS", feature_table._ReadCache(1 << 20))
    decoded = []
    real = feature_table.pq.read_table
    monkeypatch.setattr(feature_table.pq, "read_table", lambda p: decoded.append(p) or real(p))
    path = tmp_path / "t.parquet"
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_feature_table(["a", "b", "c"], X, path)
    X[0, 0] = 99  # the writer's array is its own: what was written is kept
    hashes, got = read_feature_table(path)
    assert hashes == ["a", "b", "c"] and got[0, 0] == 0 and not decoded  # kept when written
    hashes.append("z")  # a caller's list is its own; the features cannot be changed
    again_h, again = read_feature_table(path)
    with pytest.raises(ValueError, match="read-only"):
        again[0, 0] = -1
    assert again_h == ["a", "b", "c"] and np.array_equal(again, got) and not decoded
    other = tmp_path / "other.parquet"  # another writer's file moved in: a new inode, read
    feature_table.pq.write_table(feature_table.to_arrow(["a", "b"], X[:2] + 1), other)
    other.replace(path)
    assert read_feature_table(path)[0] == ["a", "b"] and len(decoded) == 1
    assert read_feature_table(path)[1][0, 0] == 100 and len(decoded) == 1
    # a file deleted and its inode used again by a new one of the same size and time stamp:
    # what the writer wrote replaces what the old file left under that identity; a read not
    key = feature_table._identity(os.stat(path))
    feature_table._READS.put(key, ["q"], X[:1] + 5, written=True)
    feature_table._READS.put(key, ["r"], X[:1])
    assert feature_table._READS.get(key)[0] == ["q"]
    big = tmp_path / "big.parquet"  # larger than the whole cache: read every time
    write_feature_table([str(i) for i in range(300)], np.ones((300, 1024), np.float32), big)
    read_feature_table(big)
    read_feature_table(big)
    assert len(decoded) == 3
    path.unlink()
    with pytest.raises(OSError):
        read_feature_table(path)
