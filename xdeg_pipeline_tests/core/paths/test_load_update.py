"""The hub load updated from the previous graph's (issue 20): kept images keep theirs, new ones
take their kNN neighbours' median, past LOAD_KEEP_SHARE it is estimated afresh."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths.finder import PathFinder
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline.core.paths.load_update import neighbour_load, update_hub_load


def _graph(X: np.ndarray, hashes: list[str]):
    return build_graph(knn_edges(X, k=8), X, vertex_attrs={"content_hash": hashes})


def test_neighbour_load_takes_the_median_of_kept_knn_neighbours() -> None:
    g = ig.Graph(n=6, edges=[(0, 3), (1, 3), (2, 3), (3, 4), (0, 5)])
    g.es["long"] = [False, False, False, False, True]  # a landmark edge does not count
    load = np.array([0.1, 0.2, 0.9, np.nan, np.nan, np.nan])
    out = neighbour_load(g, load)
    assert out[3] == 0.2  # median of 0.1, 0.2, 0.9
    assert out[4] == 0.2  # only a new neighbour: its value, on the next pass
    assert out[5] == 0.2  # no kNN neighbour: the kept images' median
    np.testing.assert_array_equal(out[:3], load[:3])


def test_added_and_removed_images_update_the_load_a_large_change_rebuilds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(params, "LOAD_ROUNDS", 2)  # fresh estimates: cheap here
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    hashes = [f"{i:064x}" for i in range(310)]
    first = attach_hub_load(_graph(X, hashes[:300]), basis="b")
    Y = np.concatenate([X[3:], rng.normal(size=(4, 6)).astype(np.float32)])  # -3, +4
    grown, how = update_hub_load(_graph(Y, hashes[3:304]), first, basis="b")
    assert (how.mode, how.estimated, how.carried) == ("update", 4, 297)
    np.testing.assert_array_equal(grown.vs["load"][:297], first.vs["load"][3:])
    assert np.isfinite(grown.vs["load"]).all()
    assert grown["params"]["load_base"] == {"n": 300, "changed": 7, "basis": "b"}
    assert PathFinder(grown).load.tolist() == grown.vs["load"]  # the finder reads it
    many = np.concatenate([Y, rng.normal(size=(20, 6)).astype(np.float32)])
    assert 7 + 20 > params.LOAD_KEEP_SHARE * 300
    again, how = update_hub_load(_graph(many, hashes[3:304] + [f"n{i}" for i in range(20)]),
                                 grown, basis="b")
    assert how.mode == "rebuild" and "not carried" in how.reason and how.estimated == 321
    assert again["params"]["load_base"] == {"n": 321, "changed": 0, "basis": "b"}
    other, how = update_hub_load(_graph(Y, hashes[3:304]), first, basis="another space")
    assert how.mode == "rebuild"
    assert update_hub_load(_graph(X, hashes[:300]), None, basis="b")[1].reason == \
        "no previous graph"
