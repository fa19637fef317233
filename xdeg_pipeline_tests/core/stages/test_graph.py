"""The similarity_graph stage keeps the hub load of the images a rebuild keeps (issue 21), and
after a small change updates the load instead of estimating it afresh (issue 20), saying which
in its state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.graph.build import build_graph, load_graph
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.graph import similarity_graph
from xdeg_pipeline.core.stages.knn import knn_edges
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline_tests.helpers.graphs import points_with_series
from xdeg_pipeline_tests.helpers.pca_stage import clustered_vectors, write_pca


def _build(home: Path, keys: list[str], Z: np.ndarray, model_id: str):
    settings = Settings(home=home, k=8)
    write_pca(home, keys, Z, model_id)
    pd.DataFrame({"name": [f"img_{k[-4:]}.png" for k in keys], "content_hash": keys}).to_parquet(
        home / "raw_images.parquet")
    knn_edges(settings)
    similarity_graph(settings)
    return load_graph(home / "similarity_graph.pkl", allowed_root=home)


def _no_igraph(*_args, **_kwargs):
    raise AssertionError("the graph a build replaces is read as arrays, not built in igraph")


def test_a_grown_collection_keeps_the_load_of_its_images(tmp_path: Path, monkeypatch) -> None:
    keys = [f"{i:064x}" for i in range(400)]
    Z = clustered_vectors(410, 0)
    first = _build(tmp_path, keys, Z[:400], "m1")
    assert first["params"]["load_base"]["changed"] == 0
    more = keys + [f"{i:064x}" for i in range(900, 904)]
    monkeypatch.setattr("xdeg_pipeline.core.graph.build.load_graph", _no_igraph)
    grown = _build(tmp_path, more, Z[:404], "m1")  # (the test reads it with its own load_graph)
    monkeypatch.undo()
    assert grown["params"]["load_base"]["changed"] == 4
    assert grown.vs["load"][:400] == first.vs["load"]
    state = read_state(tmp_path, "similarity_graph")
    assert (state["mode"], state["load_estimated"]) == ("update", 4)
    rebuilt = build_graph(pd.read_parquet(tmp_path / "knn_edges.parquet"), Z[:404],
                          vertex_attrs={"content_hash": more})
    assert grown.get_edgelist() == rebuilt.get_edgelist()  # the structure: as a rebuild
    assert grown.es["weight"] == rebuilt.es["weight"] and grown.vs["sigma"] == rebuilt.vs["sigma"]
    refit = _build(tmp_path, keys, Z[:400], "m2")  # another PCA model: another space
    assert refit["params"]["load_base"]["changed"] == 0
    assert refit["params"]["load_base"]["basis"] != first["params"]["load_base"]["basis"]
    assert read_state(tmp_path, "similarity_graph")["mode"] == "rebuild"


def test_above_the_partition_setting_the_exit_search_runs_in_partitions(
        tmp_path: Path, monkeypatch) -> None:
    """What the graph step searches over all vectors (the exits) is partitioned above the
    same setting as knn_edges, and the stage's state says which search ran."""
    from xdeg_pipeline.core import params

    monkeypatch.setattr(params, "EXIT_EXACT_BUDGET", 0)  # small: the search is not exact
    Z = points_with_series(seed=0)  # a series: its images lack distinct pictures, get exits
    n = len(Z)
    keys = [f"{i:064x}" for i in range(n)]
    write_pca(tmp_path, keys, Z, "m1")
    pd.DataFrame({"name": [f"img_{k[-4:]}.png" for k in keys], "content_hash": keys}).to_parquet(
        tmp_path / "raw_images.parquet")
    for above, search in ((n, "hnsw"), (n - 1, "partitioned")):
        settings = Settings(home=tmp_path, k=8, knn_partition_above=above)
        knn_edges(settings)
        (tmp_path / "similarity_graph.pkl").unlink(missing_ok=True)  # built again
        similarity_graph(settings)
        state = read_state(tmp_path, "similarity_graph")
        assert state["exit_search"] == search and state["exits"] > 0, above
        graph = load_graph(tmp_path / "similarity_graph.pkl", allowed_root=tmp_path)
        assert graph["params"]["exit_search"] == search and graph.vcount() == n
