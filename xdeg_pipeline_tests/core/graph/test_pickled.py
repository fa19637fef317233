"""The compact graph pickle: an equal graph and equal chains; igraph's own pickles still load."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from xdeg_pipeline.core.graph.build import build_graph, load_graph, load_graph_lean, save_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.lean import LeanGraph
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline_tests.helpers.graphs import points_with_series


def _chains(graph, finder: PathFinder | None = None) -> list:
    finder = PathFinder(graph) if finder is None else finder
    pairs = [(0, 150), (3, 250), (17, 199), (60, 319), (5, 6)]
    out = []
    for s, t in pairs:
        for kw in ({"mode": "smooth", "alternatives": 2}, {"mode": "shortest"},
                   {"mode": "steps", "steps": 4}, {"mode": "smooth", "via": [100]}):
            out.append([(c.vertices, c.steps) for c in finder.find(s, t, **kw)])
    return out


def test_the_compact_pickle_loads_an_equal_graph_with_equal_chains(tmp_path):
    X = points_with_series(spread=200, series=120)
    hashes = [f"{i:064x}" for i in range(len(X))]
    g = attach_hub_load(build_graph(knn_edges(X, 8), X, vertex_attrs={
        "content_hash": hashes, "name": [f"{i}.jpg" for i in range(len(X))],
        "names": [[f"{i}.jpg"] for i in range(len(X))]}))
    save_graph(g, tmp_path / "g.pkl")
    compact = load_graph(tmp_path / "g.pkl", allowed_root=tmp_path)
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(g))  # igraph's own pickle
    plain = load_graph(tmp_path / "plain.pkl", allowed_root=tmp_path)
    for h in (compact, plain):
        assert h.vcount() == g.vcount() and h.get_edgelist() == g.get_edgelist()
        assert h["params"] == g["params"]
        for name in g.es.attributes():
            assert h.es[name] == g.es[name], name
        for name in g.vs.attributes():
            assert h.vs[name] == g.vs[name], name
    assert type(compact.es["weight"][0]) is float and type(compact.es["mutual"][0]) is bool
    assert g["params"]["exits"] > 0 and any(g.es["long"])  # every kind of edge is covered
    assert _chains(compact) == _chains(plain) == _chains(g)


def test_a_lean_load_gives_arrays_no_igraph_object_and_equal_chains(tmp_path):
    """What the explorer and the path jobs load: no igraph object and no Python object per
    edge, the same answers (alternatives too: the graph carries its cut vertices; a graph
    pickled without them builds the igraph graph once, when alternatives are first asked)."""
    X = points_with_series(spread=200, series=120)
    g = attach_hub_load(build_graph(knn_edges(X, 8), X, vertex_attrs={
        "content_hash": [f"{i:064x}" for i in range(len(X))]}))
    save_graph(g, tmp_path / "g.pkl")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(g))  # igraph's own pickle
    expected = _chains(g)
    alternatives = [c.vertices for c in PathFinder(g).find(0, len(X) - 1, alternatives=3)]
    short = g.subgraph_edges(g.es.select(long=False), delete_vertices=False)
    assert g["cut_vertices"] == sorted(short.articulation_points())
    old = g.copy()
    del old["cut_vertices"]  # a graph pickled before the graph stage stored them
    save_graph(old, tmp_path / "old.pkl")
    for name in ("g.pkl", "plain.pkl", "old.pkl"):
        lean = load_graph_lean(tmp_path / name, allowed_root=tmp_path)
        assert isinstance(lean, LeanGraph) and lean._igraph is None
        assert list(zip(lean.eu.tolist(), lean.ev.tolist())) == g.get_edgelist()
        assert (lean.vcount(), lean.ecount()) == (g.vcount(), g.ecount())
        assert lean["params"] == g["params"] and list(lean.vs["load"]) == g.vs["load"]
        assert lean.vs[5]["content_hash"] == g.vs[5]["content_hash"]
        assert sorted(lean.edge_arrays) == sorted(g.es.attributes())
        for attribute, values in lean.edge_arrays.items():
            assert isinstance(values, np.ndarray) and values.tolist() == g.es[attribute]
        finder = PathFinder(lean)
        finder.find(0, 150, mode="steps", steps=4, via=[100])
        assert lean._igraph is None  # a chain needs no igraph object; alternatives build it
        assert _chains(lean, finder) == expected, name
        assert [c.vertices for c in finder.find(0, len(X) - 1, alternatives=3)] == alternatives
        assert (lean._igraph is None) == (name != "old.pkl")  # built only without cut vertices
        assert finder._cut_vertices() == set(g["cut_vertices"])
        assert lean.igraph().get_edgelist() == g.get_edgelist()
    with pytest.raises(ValueError, match="vertices"):
        PathFinder(g.subgraph(range(10)), arcs=Arcs.of_lean(lean))


def test_the_graph_carries_the_images_every_route_between_its_parts_passes():
    """Two far groups joined by one bridge: its two ends are the cut vertices, stored with the
    graph; alternative chains across may share them and nothing else."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (150, 8)), rng.normal(0, 1, (150, 8)) + 40])
    g = build_graph(knn_edges(X.astype(np.float32), 8), X)
    assert g["params"]["bridges"] == 1 and len(g["cut_vertices"]) == 2
    a, b = g["cut_vertices"]
    assert (a < 150) != (b < 150) and g.are_adjacent(a, b)  # the bridge's two ends
    chains = PathFinder(attach_hub_load(g)).find(0, 299, alternatives=3)
    assert len(chains) >= 2
    shared = set(chains[0].vertices[1:-1]) & set(chains[1].vertices[1:-1])
    assert {a, b} <= shared <= {a, b}


def test_a_lean_load_refuses_a_pickle_outside_the_data_folder(tmp_path):
    (tmp_path / "outside.pkl").write_bytes(pickle.dumps({"not": "a graph"}))
    (tmp_path / "home").mkdir()
    with pytest.raises(PermissionError):
        load_graph_lean(tmp_path / "outside.pkl", allowed_root=tmp_path / "home")
    with pytest.raises(TypeError, match="does not hold an igraph.Graph"):
        load_graph_lean(tmp_path / "outside.pkl", allowed_root=tmp_path)
