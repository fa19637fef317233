"""The similarity graph's pickle, compact: edges and uniform attributes as numpy arrays.

igraph pickles a graph as its constructor's arguments: the edge list as a list of Python
tuples and every attribute as a list of Python objects, so loading a graph of m edges first
builds m tuples (~120 bytes each) before igraph copies them. :func:`dump_graph` pickles the same
graph with the edges as one int32/int64 array and every attribute whose values are all floats
(or all bools) as a float64 (bool) array; unpickling calls :func:`graph_from_arrays`, which
builds an equal ``igraph.Graph`` (same vertices, edge ids, attributes and values). The file is
still an igraph pickle to any reader that can import xdeg, and pickles igraph wrote itself
load as before. :func:`load_lean` reads either kind as a :class:`~.lean.LeanGraph` (arrays, no
igraph object), which is what the path finder and the explorer read.
"""

from __future__ import annotations

import copyreg
import pickle
from typing import IO, Any

import numpy as np

from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.lean import LeanGraph, igraph_of_edges
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
    g = igraph_of_edges(n, edges, directed)
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


def _lean_graph(n: int, directed: bool, edges: np.ndarray, graph_attrs: dict,
               vertex_attrs: dict, edge_attrs: dict) -> LeanGraph:
    edges = np.asarray(edges).reshape(-1, 2)
    return LeanGraph(n, directed, edges[:, 0], edges[:, 1], graph_attrs, vertex_attrs,
                     edge_attrs)


class _LeanUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == graph_from_arrays.__name__:
            return _lean_graph
        return super().find_class(module, name)


def load_lean(fh: IO[bytes]) -> Any:
    """Unpickle a graph from ``fh`` as a :class:`~.lean.LeanGraph`: no ``igraph.Graph`` is built
    (seconds of held GIL at a million images), and the edges and edge attributes stay arrays
    instead of one Python object per edge and attribute (0.65 GB at a million images). A pickle
    igraph wrote itself is converted. Anything else the file held is returned as it is, for the
    caller to check."""
    got = _LeanUnpickler(fh).load()
    return LeanGraph.of(got) if isinstance(got, ig.Graph) else got
