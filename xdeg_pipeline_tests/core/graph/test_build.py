"""Similarity graph: bulk build, connectivity by construction, safe loading."""

from __future__ import annotations

import pickle

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.graph.build import build_graph, load_graph, save_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline.core.storage.atomic import write_pickle


def separated_clusters(n_per: int = 40, clusters: int = 5, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 50  # far apart: kNN never crosses
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(clusters), n_per)


def test_separated_clusters_are_joined_by_their_closest_pairs():
    X, labels = separated_clusters()
    edges = knn_edges(X, 5)
    assert (labels[edges["source"]] == labels[edges["target"]]).all()  # no crossing kNN edge
    g = build_graph(edges, X, landmarks=0)
    assert g["params"]["components_before_bridging"] == 5
    assert g["params"]["bridges"] == 4
    assert g.is_connected() and not g.is_directed()
    # each bridge is the exact closest pair of the two clusters it joins
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    for e in g.es.select(bridge=True):
        a, b = e.tuple
        ca, cb = labels == labels[a], labels == labels[b]
        assert e["weight"] == pytest.approx(D[np.ix_(ca, cb)].min(), rel=1e-5)
    # the bridges are the cheapest way to join the clusters (MST of cluster distances)
    C = np.array([[D[np.ix_(labels == i, labels == j)].min() for j in range(5)] for i in range(5)])
    from scipy.sparse.csgraph import minimum_spanning_tree

    mst_total = minimum_spanning_tree(np.where(np.eye(5, dtype=bool), 0, C)).sum()
    assert sum(g.es.select(bridge=True)["weight"]) == pytest.approx(mst_total, rel=1e-5)


def test_edges_are_undirected_unique_and_weighted_by_distance():
    X, _ = separated_clusters(30, 3)
    edges = knn_edges(X, 6)
    g = attach_hub_load(  # the graph stage stores the hub load path search uses
        build_graph(edges, X, vertex_attrs={"name": [f"im{i}" for i in range(len(X))]}, k=6))
    el = np.array(g.get_edgelist())
    assert len({tuple(sorted(e)) for e in el.tolist()}) == g.ecount()  # no multi-edges
    assert not g.is_loop().count(True)
    w = np.array(g.es["weight"])
    np.testing.assert_allclose(w, np.linalg.norm(X[el[:, 0]] - X[el[:, 1]], axis=1), rtol=1e-5)
    knn_pairs = {tuple(sorted(p)) for p in zip(edges["source"], edges["target"], strict=True)}
    assert knn_pairs <= {tuple(e) for e in el.tolist()}  # every kNN edge kept, both directions
    assert g.vs[7]["name"] == "im7"
    assert g["params"]["k"] == 6 and g["params"]["n_vertices"] == len(X)
    assert len(g.vs["load"]) == len(X) and min(g.vs["load"]) >= 0


def test_weights_are_the_distances_whatever_the_tables_distance_column_says():
    X, _ = separated_clusters(30, 3)
    edges = knn_edges(X, 6)

    def weights(table: pd.DataFrame) -> np.ndarray:
        g = build_graph(table, X, landmarks=0)
        el = np.array(g.get_edgelist())
        exact = np.linalg.norm(X[el[:, 0]] - X[el[:, 1]], axis=1)
        np.testing.assert_allclose(g.es["weight"], exact, rtol=1e-5)
        return np.array(g.es["weight"])

    taken = weights(edges)  # the table's own distances, a sample of them measured again
    squared = weights(edges.assign(distance=edges["distance"] ** 2))  # another convention
    np.testing.assert_array_equal(taken, squared)
    weights(edges.drop(columns=["distance"]))


def test_long_range_edges_bound_hop_distance():
    X, _ = separated_clusters(60, 4)
    g = build_graph(knn_edges(X, 4), X)
    assert g["params"]["long_edges"] > 0
    hops = np.array(g.distances(source=list(range(0, 240, 7))))
    assert hops.max() <= 3
    base = g.subgraph_edges(g.es.select(long=False), delete_vertices=False)
    assert base.is_connected()  # connected without the long-range edges too


def test_vertex_attrs_must_match_and_endpoints_must_be_rows():
    X, _ = separated_clusters(10, 2)
    edges = knn_edges(X, 3)
    with pytest.raises(ValueError):
        build_graph(edges, X, vertex_attrs={"name": ["a"]})
    bad = pd.DataFrame({"source": [0], "target": [99], "distance": [1.0], "rank": [1]})
    with pytest.raises(ValueError):
        build_graph(bad, X)


def test_single_image_and_no_edges():
    X = np.ones((1, 4), np.float32)
    g = build_graph(knn_edges(X, 3), X)
    assert g.vcount() == 1 and g.ecount() == 0


def test_load_graph_only_from_inside_the_data_folder(tmp_path):
    X, _ = separated_clusters(10, 2)
    g = build_graph(knn_edges(X, 3), X)
    home = tmp_path / "home"
    inside = home / "similarity_graph.pkl"
    save_graph(g, inside)
    back = load_graph(inside, allowed_root=home)
    assert back.vcount() == g.vcount() and back.es["weight"] == g.es["weight"]

    outside = tmp_path / "elsewhere.pkl"
    write_pickle(g, outside)
    with pytest.raises(PermissionError):
        load_graph(outside, allowed_root=home)
    with pytest.raises(PermissionError):
        load_graph(home / ".." / "elsewhere.pkl", allowed_root=home)
    link = home / "link.pkl"
    link.symlink_to(outside)
    with pytest.raises(PermissionError):  # a link inside that points outside
        load_graph(link, allowed_root=home)
    with pytest.raises(FileNotFoundError):
        load_graph(home / "missing.pkl", allowed_root=home)
    (home / "not_a_graph.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(TypeError):
        load_graph(home / "not_a_graph.pkl", allowed_root=home)
    assert isinstance(back, ig.Graph)
