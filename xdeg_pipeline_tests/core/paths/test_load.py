"""Hub load: subtree sizes, and the stored load is the one a finder would estimate."""

from __future__ import annotations

import numpy as np

from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.load import PreviousLoad, attach_hub_load, subtree_sizes


def test_subtree_sizes_count_descendants():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 40
        pred = np.full(n, -9999)
        order = rng.permutation(n)
        for i, v in enumerate(order[1:], start=1):  # a random forest: parent earlier in order
            if rng.random() < 0.9:
                pred[v] = order[rng.integers(0, i)]
        expected = np.ones(n)
        for v in range(n):
            u = pred[v]
            while u >= 0:
                expected[u] += 1
                u = pred[u]
        np.testing.assert_array_equal(subtree_sizes(pred), expected)


def test_stored_load_is_the_finders_estimate_and_is_reused_only_when_settings_match():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    edges = knn_edges(X, 6)
    stored = attach_hub_load(build_graph(edges, X))
    bare = build_graph(edges, X)
    assert "load" not in bare.vs.attributes()
    estimated = PathFinder(bare).load  # no stored load: estimated by the finder
    assert np.array(stored.vs["load"]).tolist() == estimated.tolist()
    assert stored["params"]["load_params"] == PathFinder(bare).load_params()
    stored.vs["load"] = [0.5] * 200  # a stored load is read back, not re-estimated ...
    assert PathFinder(stored).load.tolist() == [0.5] * 200
    other = PathFinder(stored, power=2.0)  # ... unless it was made with other settings
    assert other.load.tolist() == other.estimate_load().tolist() != [0.5] * 200
    assert PathFinder(stored, hub_penalty=0.0).load.tolist() == [0.0] * 200


def _graph(X: np.ndarray, start: int = 0):
    hashes = [f"{i:064x}" for i in range(start, start + len(X))]
    return build_graph(knn_edges(X, k=8), X, vertex_attrs={"content_hash": hashes})


def test_a_rebuilt_graph_keeps_the_load_of_the_images_it_keeps():
    """Issue 21: 1% images added -> the old load stays for the old images (new ones get the
    fresh estimate); past LOAD_KEEP_SHARE of changes, or on another basis, all is fresh."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    first = attach_hub_load(_graph(X), basis="b")
    assert first["params"]["load_base"] == {"n": 300, "changed": 0, "basis": "b"}
    Y = np.concatenate([X, rng.normal(size=(3, 6)).astype(np.float32) + 8])
    fresh = attach_hub_load(_graph(Y), basis="b")
    grown = attach_hub_load(_graph(Y), first, basis="b")
    np.testing.assert_array_equal(grown.vs["load"][:300], first.vs["load"])
    kept = attach_hub_load(_graph(Y), PreviousLoad.of(first), basis="b")  # the stage's form
    assert kept.vs["load"] == grown.vs["load"] and kept["params"] == grown["params"]
    assert grown.vs["load"][300:] == fresh.vs["load"][300:]
    assert not np.allclose(fresh.vs["load"][:300], first.vs["load"])  # what it avoids
    assert grown["params"]["load_base"] == {"n": 300, "changed": 3, "basis": "b"}
    other = attach_hub_load(_graph(Y), first, basis="another space")
    assert other.vs["load"] == fresh.vs["load"]
    Z = np.concatenate([Y, rng.normal(size=(20, 6)).astype(np.float32)])
    again = attach_hub_load(_graph(Z), grown, basis="b")  # 3 + 20 > 5% of 300: fresh
    assert again["params"]["load_base"] == {"n": 323, "changed": 0, "basis": "b"}
    assert PathFinder(grown).load.tolist() == grown.vs["load"]  # the finder reads it


def test_a_shorter_estimate_runs_as_many_sources_a_round_as_a_fresh_one(monkeypatch) -> None:
    """Where the work budget binds, an update (4 rounds) draws the sources a round a fresh
    estimate (LOAD_ROUNDS) draws, so it costs 4/LOAD_ROUNDS of one, not all of its budget."""
    from xdeg_pipeline.core import params
    from xdeg_pipeline.core.paths import load
    from xdeg_pipeline.core.paths.arcs import Arcs
    from xdeg_pipeline.core.paths.costs import StepCost

    X = np.random.default_rng(3).normal(size=(300, 8)).astype(np.float32)
    graph = build_graph(knn_edges(X, k=8), X)
    arcs = Arcs(graph)
    monkeypatch.setattr(params, "LOAD_WORK", params.LOAD_ROUNDS * 5 * len(arcs.arc_e))
    drawn: list[int] = []
    real = load.ranked_sample
    monkeypatch.setattr(load, "ranked_sample",
                        lambda keys, k, salt: drawn.append(k) or real(keys, k, salt))
    load.estimate_load(arcs, StepCost.of())
    fresh = list(drawn)
    drawn.clear()
    load.estimate_load(arcs, StepCost.of(), rounds=4)
    assert fresh == [5] * params.LOAD_ROUNDS and drawn == [5] * 4
