"""The collection map: seeded t-SNE layouts, new images placed without moving the others."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.pictures.collection_map import (
    MapParams,
    build_map,
    fit_layout,
    read_map,
    write_map,
)
from xdeg_pipeline_tests.helpers.feature_clusters import clusters

FAST = MapParams(early_exaggeration_iter=100, n_iter=150, place_iter=100)


def hashes(n: int, start: int = 0) -> list[str]:
    return [f"{i:064x}" for i in range(start, start + n)]


def test_fit_is_seeded_and_repeatable() -> None:
    X, _ = clusters(40)
    a, b = fit_layout(X, FAST), fit_layout(X, FAST)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    assert np.array_equal(a, b)
    c = fit_layout(X, replace(FAST, seed=1))
    assert not np.array_equal(a, c)


def test_the_default_layout_keeps_clusters_apart_and_theta_is_a_fit_setting() -> None:
    """xdeg's defaults (fewer iterations, coarser Barnes-Hut than openTSNE's) still separate
    the clusters; theta is part of what a fit depends on, so changing it refits the map."""
    X, label = clusters(60)
    Y = fit_layout(X)
    centroids = np.array([Y[label == c].mean(0) for c in range(3)])
    nearest = np.argmin(((Y[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == label).mean() > 0.95
    assert MapParams().fit_params()["theta"] == MapParams().theta
    assert not np.array_equal(Y, fit_layout(X, replace(MapParams(), theta=0.5)))


def test_layout_keeps_clusters_apart() -> None:
    X, label = clusters(40)
    Y = fit_layout(X, FAST)
    centroids = np.array([Y[label == c].mean(0) for c in range(3)])
    nearest = np.argmin(((Y[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == label).mean() > 0.95


def test_new_images_are_placed_and_nothing_moves() -> None:
    X, label = clusters(41)
    new = np.array([40, 81, 122])  # one new image in each cluster
    old = np.setdiff1d(np.arange(len(X)), new)
    h = hashes(len(X))
    first = build_map([h[i] for i in old], X[old], None, FAST)
    assert first.mode == "fit" and len(first.table) == len(old)
    second = build_map(h, X, first.table, FAST)
    assert second.mode == "place" and second.placed == 3 and second.kept == len(old)
    merged = second.table.set_index("content_hash")
    before = first.table.set_index("content_hash")
    assert merged.loc[before.index, ["x", "y"]].equals(before[["x", "y"]])  # bit for bit
    Y = merged.loc[h, ["x", "y"]].to_numpy()
    centroids = np.array([Y[old][label[old] == c].mean(0) for c in range(3)])
    for i in new:
        d = ((centroids - Y[i]) ** 2).sum(1)
        assert np.argmin(d) == label[i], "a new image lands by its own cluster"


def test_unchanged_and_removed_images() -> None:
    X, _ = clusters(30)
    h = hashes(len(X))
    first = build_map(h, X, None, FAST)
    again = build_map(h, X, first.table, FAST)
    assert again.mode == "unchanged" and again.table.equals(first.table)
    keep = np.arange(10, len(X))
    fewer = build_map([h[i] for i in keep], X[keep], first.table, FAST)
    assert fewer.mode == "place" and fewer.removed == 10 and fewer.placed == 0
    assert set(fewer.table["content_hash"]) == {h[i] for i in keep}


def test_refit_when_most_images_are_new_or_asked() -> None:
    X, _ = clusters(30)
    h = hashes(len(X))
    small = build_map(h[:20], X[:20], None, FAST)
    grown = build_map(h, X, small.table, FAST)  # 20 of 90 on the old map: below refit_below
    assert grown.mode == "fit" and len(grown.table) == 90
    forced = build_map(h, X, grown.table, FAST, refit=True)
    assert forced.mode == "fit"


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_tiny_collections(n: int) -> None:
    X, _ = clusters(n, k=1)
    result = build_map(hashes(n), X, None, FAST)
    assert len(result.table) == n and np.isfinite(result.table[["x", "y"]].to_numpy()).all()
    more, _ = clusters(n + 1, k=1, seed=3)
    placed = build_map(hashes(n + 1), more, result.table, FAST)
    assert len(placed.table) == n + 1


def test_table_round_trip_and_bad_input(tmp_path: Path) -> None:
    X, _ = clusters(10, k=1)
    table = build_map(hashes(10), X, None, FAST).table
    write_map(table, tmp_path / "map.parquet")
    back = read_map(tmp_path / "map.parquet")
    assert list(back.columns) == ["content_hash", "x", "y"] and back.equals(table)
    assert read_map(tmp_path / "none.parquet") is None
    pd.DataFrame({"content_hash": ["a"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="not a collection map"):
        read_map(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="hashes"):
        build_map(hashes(3), X, None, FAST)
