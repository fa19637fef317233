"""The similarity graph's pickle, compact: edges and uniform attributes as numpy arrays.

igraph pickles a graph as its constructor's arguments: the edge list as a list of Python
tuples and every attribute as a list of Python objects, so loading a graph of m edges first
builds m tuples (~120 bytes each) before igraph copies them. :func:`dump_graph` pickles the same
graph with the edges as one int32/int64 array and every attribute whose values are all floats
(or all bools) as a float64 (bool) array; unpickling calls :func:`graph_from_arrays`, which
builds an equal ``igraph.Graph`` (same vertices, edge ids, attributes and values). The file is
still an igraph pickle to any reader that can import xdeg, and pickles igraph wrote itself
load as before. :func:`load_lean` reads either kind with the edge attributes left as arrays
beside the graph, for the path finder, which holds them as arrays anyway.
"""

from __future__ import annotations

import copyreg
import pickle
from typing import IO, Any

import igraph as ig
import numpy as np

from xdeg_pipeline.core.graph.near_duplicates import edge_ends


def _packed(values: list) -> Any:
    """``values`` as a float64 or bool array when every value is a float or every one a bool
    (both round-trip exactly through ``tolist``), else the list itself."""
    if not values:
        return values
    kind = type(values[0])
    if kind not in (float, bool) or not all(type(x) is kind for x in values):
        return values
    return np.array(values, dtype=np.float64 if kind is float else bool)


def _unpacked(values: Any) -> list:
    return values.tolist() if isinstance(values, np.ndarray) else values


def graph_from_arrays(n: int, directed: bool, edges: np.ndarray, graph_attrs: dict,
                      vertex_attrs: dict, edge_attrs: dict) -> ig.Graph:
    """The graph :func:`dump_graph` pickled (its reconstructor)."""
    g = ig.Graph(n=n, edges=edges, directed=directed)
    for name, value in graph_attrs.items():
        g[name] = value
    for name, values in vertex_attrs.items():
        g.vs[name] = _unpacked(values)
    for name, values in edge_attrs.items():
        g.es[name] = _unpacked(values)
    return g


def _reduce(graph: ig.Graph) -> tuple:
    n = graph.vcount()
    eu, ev = edge_ends(graph)
    dtype = np.int32 if n < 2**31 else np.int64
    edges = np.column_stack([eu.astype(dtype), ev.astype(dtype)])
    del eu, ev
    return graph_from_arrays, (
        n, graph.is_directed(), edges,
        {name: graph[name] for name in graph.attributes()},
        {name: _packed(graph.vs[name]) for name in graph.vs.attributes()},
        {name: _packed(graph.es[name]) for name in graph.es.attributes()},
    )


def dump_graph(graph: ig.Graph, fh: IO[bytes]) -> None:
    """Pickle ``graph`` compactly into the open binary file ``fh``."""
    pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, ig.Graph: _reduce}
    pickler.dump(graph)


def _graph_and_edge_arrays(n: int, directed: bool, edges: np.ndarray, graph_attrs: dict,
                           vertex_attrs: dict, edge_attrs: dict) -> tuple[ig.Graph, dict]:
    return (graph_from_arrays(n, directed, edges, graph_attrs, vertex_attrs, {}),
            {name: np.asarray(values) for name, values in edge_attrs.items()})


class _LeanUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == graph_from_arrays.__name__:
            return _graph_and_edge_arrays
        return super().find_class(module, name)


def load_lean(fh: IO[bytes]) -> tuple[Any, dict[str, np.ndarray]]:
    """Unpickle a graph from ``fh`` with its graph and vertex attributes but without its edge
    attributes, which come back as arrays (name -> one value per edge id) instead of igraph's
    one Python object per edge and attribute (0.65 GB at a million images). A pickle igraph
    wrote itself has its edge attributes moved out the same way. The first item is whatever
    the file held, for the caller to check."""
    got = _LeanUnpickler(fh).load()
    if isinstance(got, ig.Graph):  # not written by dump_graph
        arrays = {name: np.asarray(got.es[name]) for name in got.es.attributes()}
        for name in arrays:
            del got.es[name]
        return got, arrays
    if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], ig.Graph):
        return got
    return got, {}
