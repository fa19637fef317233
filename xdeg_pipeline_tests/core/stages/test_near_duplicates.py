"""The near_duplicates stage: a table of the groups and strips of the largest, reused while
the graph is unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from xdeg_pipeline.core.graph.build import build_graph, save_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.near_duplicates import find_near_duplicates
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.near_duplicates import COLUMNS, near_duplicates
from xdeg_pipeline.core.storage.state import write_state
from xdeg_pipeline_tests.helpers.collections import make_image
from xdeg_pipeline_tests.helpers.graphs import points_with_series


def _data_folder(tmp_path: Path) -> Settings:
    """A data folder with a graph of scattered points and a series, and one image per vertex."""
    X = points_with_series(seed=7, spread=60, series=30)
    names = [f"{'series' if i >= 60 else 'spread'}/img_{i:03d}.png" for i in range(len(X))]
    images = tmp_path / "images"
    for i, n in enumerate(names):
        make_image(images / n, seed=i, size=48)
    hashes = [f"{i:064x}" for i in range(len(X))]
    graph = build_graph(knn_edges(X, 6), X, vertex_attrs={
        "content_hash": hashes, "name": names, "names": [[n] for n in names]})
    settings = Settings.from_env({}, home=tmp_path / "home", images_dir=images)
    files = settings.layout
    files.home.mkdir(parents=True)
    save_graph(graph, files.similarity_graph)
    pd.DataFrame({"name": names, "content_hash": hashes}).to_parquet(files.raw_images)
    write_state(files.home, "similarity_graph", {"output_fingerprint": "g1"})
    return settings


def test_the_table_holds_the_groups_and_the_strips_show_the_largest(tmp_path: Path) -> None:
    settings = _data_folder(tmp_path)
    files = settings.layout
    result = near_duplicates(settings)
    assert not result.reused
    table = pd.read_parquet(files.near_duplicates)
    assert list(table.columns) == COLUMNS
    from xdeg_pipeline.core.graph.build import load_graph

    near = find_near_duplicates(load_graph(files.similarity_graph, allowed_root=files.home))
    assert len(table) == int((near.labels >= 0).sum()) > 0
    assert table["name"].str.startswith("series/").mean() > 0.9  # the series, not the spread
    sizes = table.groupby("group")["name"].count()
    assert (table["group_size"] == table["group"].map(sizes)).all()
    assert table["group_size"].is_monotonic_decreasing
    assert (table["nearest_distance"] < near.scale.near_dup).all()
    state = result.state
    assert state["groups"] == len(sizes) and state["images_in_groups"] == len(table)
    assert state["largest_group"] == int(sizes.max())
    assert 0 < state["near_duplicate_distance"] < state["natural_step"]
    assert 1 <= len(state["examples"]) <= 3
    for png in state["examples"]:
        with Image.open(png) as im:
            assert im.width > 200 and im.height > 96
    again = near_duplicates(settings)
    assert again.reused and again.state["groups"] == state["groups"]
    write_state(files.home, "similarity_graph", {"output_fingerprint": "g2"})  # a new graph
    stamps = {png: Path(png).stat().st_mtime_ns for png in state["examples"]}
    rebuilt = near_duplicates(settings)
    assert not rebuilt.reused and rebuilt.state["examples"] == state["examples"]
    # the same groups: their strips are not drawn again, unless one is missing
    assert {png: Path(png).stat().st_mtime_ns for png in state["examples"]} == stamps
    gone = Path(state["examples"][0])
    gone.unlink()
    write_state(files.home, "similarity_graph", {"output_fingerprint": "g3"})
    near_duplicates(settings)
    assert gone.is_file()


def test_a_collection_without_near_duplicates_has_an_empty_table(tmp_path: Path) -> None:
    settings = _data_folder(tmp_path)
    files = settings.layout
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    names = [f"img_{i:03d}.png" for i in range(40)]
    save_graph(build_graph(knn_edges(X, 5), X, vertex_attrs={
        "content_hash": [str(i) for i in range(40)], "name": names,
        "names": [[n] for n in names]}), files.similarity_graph)
    write_state(files.home, "similarity_graph", {"output_fingerprint": "random"})
    result = near_duplicates(settings)
    table = pd.read_parquet(files.near_duplicates)
    assert list(table.columns) == COLUMNS and len(table) == 0
    assert result.state["groups"] == 0 and result.state["examples"] == []
