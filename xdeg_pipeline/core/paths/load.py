"""Hub load: the share of all chains that pass through each image, estimated by simulation.

``smooth`` (through :class:`~.costs.StepCost`) makes busy images dearer to pass through, so
chains spread over equally good routes. The graph stage stores the estimate in the graph it
builds (:func:`attach_hub_load`: vertex attribute ``load`` and ``graph["params"]["load_params"]``);
a finder reuses it when the settings match and estimates it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import dijkstra

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.lean import LeanGraph, stored_params
from xdeg_pipeline.core.graph.near_duplicates import (
    StepScale,
    find_near_duplicates,
    near_dup_distance,
    near_duplicates_of_edges,
)
from xdeg_pipeline.core.graph.sampling import graph_keys, ranked_sample, vertex_keys
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.costs import StepCost


def subtree_sizes(pred: np.ndarray) -> np.ndarray:
    """Vertices in each subtree of a predecessor forest (unreached vertices: their own root).

    Vectorised: depths by pointer jumping (O(n log depth)), then sizes summed level by level
    from the deepest up.
    """
    n = len(pred)
    parent = np.where(pred >= 0, pred, np.arange(n))
    depth = (pred >= 0).astype(np.int64)
    anc = parent.copy()
    while True:  # list ranking: depth[v] += depth[anc[v]]; anc[v] = anc[anc[v]]
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        depth = depth + depth[anc]
        anc = nxt
    size = np.ones(n)
    order = np.argsort(-depth, kind="stable")
    for level in np.split(order, np.flatnonzero(np.diff(depth[order])) + 1):
        if depth[level[0]] == 0:
            break
        np.add.at(size, parent[level], size[level])  # deepest level first
    return size


def arc_costs(arcs: Arcs, cost: StepCost, load: np.ndarray, scale: StepScale) -> np.ndarray:
    """Per-arc cost of the kNN arcs as ``smooth`` sees them: the step cost under ``load`` plus
    the near-duplicate penalty on the steps searches avoid (:meth:`~.arcs.Arcs.avoided`)."""
    c = cost.edge_costs(arcs, load, scale)[arcs.arc_e]
    if scale.near_dup > 0:
        pen = cost.near_dup_penalty(scale, cost.unit(arcs))
        c = c + pen * arcs.avoided(scale.near_dup)
    return c


def estimate_load(
    arcs: Arcs,
    cost: StepCost,
    rounds: int | None = None,
    sources: int | None = None,
    seed: int = 0,
    scale: StepScale | None = None,
    keys: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Share of all chains passing through each image (interior), by simulation.

    Each round runs Dijkstra under the current cost from a sample of sources drawn by the
    images' ``keys`` (from their content hashes, :func:`~xdeg_pipeline.core.graph.sampling.
    graph_keys`; default: by vertex id) with the round and ``seed`` as salt, so images that
    arrive leave the samples of the others in place (issue 21: a seeded draw over vertex ids
    changed them all, and with them chains far from the new images); a
    vertex's subtree size in a shortest-path tree is the number of chains from that source
    passing through it, so one run counts n - 1 chains. Loads are averaged over rounds
    (method of successive averages), each round costing with the loads so far, so the
    penalty settles instead of oscillating. The cap on the largest step is left out here
    (with power >= 4 it rarely binds); ``scale`` (natural step, near-duplicate distance) sets
    the step cost and the near-duplicate penalty as in the searches. ``start``: a load to go on
    from, counted as one round (:mod:`.load_update`); default zeros, counted as none.
    """
    scale = StepScale(0.0, 0.0) if scale is None else scale
    n = arcs.n
    load = np.zeros(n)
    if n < 3 or not len(arcs.w):
        return load
    done = 0 if start is None else 1  # rounds the load so far stands for
    if start is not None:
        load = np.asarray(start, dtype=np.float64).copy()
    rounds = params.LOAD_ROUNDS if rounds is None else rounds
    n_src = params.LOAD_SOURCES if sources is None else sources
    # sources per round as a fresh estimate has them: a shorter one (an update) costs less
    per_round = params.LOAD_WORK / params.LOAD_ROUNDS / max(len(arcs.arc_e), 1)
    n_src = max(2, min(n, n_src, int(per_round)))
    keys = vertex_keys(None, n) if keys is None else keys
    for r in range(rounds):
        A = arcs.csr(arcs.base_arc, arc_costs(arcs, cost, load, scale))
        usage = np.zeros(n)
        for src in ranked_sample(keys, n_src, seed * 1_000_003 + r):
            dist, pred = dijkstra(A, indices=int(src), return_predecessors=True)
            size = subtree_sizes(pred)
            size[int(src)] = 1.0  # the source is an end of its chains, not inside them
            usage += size - 1.0  # chains from src passing through each vertex
        usage = np.maximum(usage, 0.0)
        usage /= n_src * (n - 1)
        load = (load * (r + done) + usage) / (r + done + 1)
    return load


def graph_load(graph: ig.Graph, arcs: Arcs, cost: StepCost, scale: StepScale) -> np.ndarray:
    """The hub load stored in the graph by :func:`attach_hub_load` if made with these settings, else
    estimated now (zeros when the cost has no hub penalty)."""
    if cost.hub_penalty <= 0:
        return np.zeros(arcs.n)
    stored = stored_params(graph)
    if ("load" in graph.vs.attributes()
            and stored.get("load_params") == cost.load_params(scale.near_dup)):
        return np.array(graph.vs["load"], dtype=np.float64)
    return estimate_load(arcs, cost, scale=scale, keys=graph_keys(graph))


def estimate_graph_load(graph: ig.Graph, cost: StepCost | None = None) -> tuple[np.ndarray, dict]:
    """The hub load to store in a new graph, and the settings it was estimated with
    (default: the settings a default :class:`~.finder.PathFinder` uses). The graph's edges are
    read once (the arcs), and the near-duplicate scale taken from them."""
    cost = StepCost.of() if cost is None else cost
    arcs = Arcs(graph)
    base = ~arcs.long_e  # the kNN edges, as find_near_duplicates reads them
    scale = near_duplicates_of_edges(arcs.n, arcs.eu[base], arcs.ev[base], arcs.w[base],
                                     near_dup_distance(graph)).scale
    return graph_load(graph, arcs, cost, scale), cost.load_params(scale.near_dup)


@dataclass
class PreviousLoad:
    """What :func:`carry_load` needs of the graph a build replaces (its images' content hashes,
    their load, its parameters), so that graph need not stay in memory beside the new one."""

    hashes: list[str]
    load: np.ndarray
    params: dict

    @classmethod
    def of(cls, graph: ig.Graph | LeanGraph | None) -> PreviousLoad | None:
        """The load of ``graph`` (None when it has none, or no content hashes)."""
        if graph is None or "params" not in graph.attributes():
            return None
        attrs = graph.vs.attributes()
        if "load" not in attrs or "content_hash" not in attrs:
            return None
        return cls(graph.vs["content_hash"], np.asarray(graph.vs["load"], dtype=np.float64),
                   dict(graph["params"] or {}))


def attach_hub_load(graph: ig.Graph, previous: ig.Graph | PreviousLoad | None = None,
                    basis: str = "") -> ig.Graph:
    """Store in ``graph`` the hub load a default finder uses (vertex attribute ``load``,
    ``graph["params"]["load_params"]``), so a finder reads it instead of estimating it.

    With ``previous`` (the graph this one replaces) the images both hold keep their load when
    the collection changed little (:func:`carry_load`): the load moves a little with every
    image that arrives, and with it chains between routes of about equal cost (issue 21).
    The step scale (``graph["params"]["path_scale"]``: the random-pair median the
    near-duplicate distance is a share of, and the natural step) is carried with the load, for
    the same reason: both are medians over the whole collection, so every arrival moves them
    and with them the cost of every old edge (the clamp, the cap's floor, the series steps).
    ``basis`` names what the graph was built from (the space and the settings): the load is
    carried only between graphs of one basis. ``previous`` may be given as its
    :class:`PreviousLoad` (the graph stage reads it before building, then drops the graph)."""
    load, load_params = estimate_graph_load(graph)
    kept = {**carry_load(graph, previous, load, load_params, basis), "basis": basis}
    scale = carried_scale(graph, previous, kept)
    graph.vs["load"] = load.tolist()
    graph["params"]["load_params"] = {
        **load_params, "near_dup": near_dup_distance(graph, scale=scale)}
    graph["params"]["load_base"] = kept
    graph["params"]["path_scale"] = scale
    return graph


def carried_scale(graph: ig.Graph, previous: ig.Graph | PreviousLoad | None, kept: dict
                  ) -> dict:
    """The step scale chains are costed by: the previous graph's while its load is carried
    (``kept["changed"] > 0``), else this graph's own (:func:`fresh_scale`, only then: its
    near-duplicate pass took 0.7 s of a +1 % update at 100,000 images)."""
    if isinstance(previous, ig.Graph):
        previous = PreviousLoad.of(previous)
    if kept.get("changed", 0) > 0 and previous is not None and previous.params.get("path_scale"):
        return dict(previous.params["path_scale"])
    return fresh_scale(graph)


def fresh_scale(graph: ig.Graph) -> dict:
    """The step scale of this graph alone: its random-pair median and natural step."""
    stored = stored_params(graph)
    return {"pair_median": float(stored.get("pair_median", 0.0) or 0.0),
            "natural": float(find_near_duplicates(graph).scale.natural)}


def carry_load(graph: ig.Graph, previous: ig.Graph | PreviousLoad | None, load: np.ndarray,
               load_params: dict, basis: str = "") -> dict:
    """Put ``previous``'s load into ``load`` for the images both graphs hold (by content hash)
    if it was estimated with the same settings (the near-duplicate distance may differ) and the
    images added and removed since it was estimated fresh are at most
    ``params.LOAD_KEEP_SHARE`` of the collection it was estimated on. Returns what the graph
    records (``load_base``): that collection's size and the changes since."""
    n = graph.vcount()
    fresh = {"n": n, "changed": 0}
    if isinstance(previous, ig.Graph):
        previous = PreviousLoad.of(previous)
    if previous is None:
        return fresh
    old_params = dict(previous.params.get("load_params") or {})
    if not old_params or {k: v for k, v in old_params.items() if k != "near_dup"} != {
            k: v for k, v in load_params.items() if k != "near_dup"}:
        return fresh
    if "content_hash" not in graph.vs.attributes():
        return fresh
    base = previous.params.get("load_base") or {}
    if not base or base.get("basis", "") != basis:
        return fresh
    old_of = {h: i for i, h in enumerate(previous.hashes)}
    idx = np.fromiter((old_of.get(h, -1) for h in graph.vs["content_hash"]), np.int64, count=n)
    del old_of
    both = int((idx >= 0).sum())
    changed = int(base["changed"]) + (n - both) + (len(previous.hashes) - both)
    if changed > params.LOAD_KEEP_SHARE * int(base["n"]):
        return fresh
    load[idx >= 0] = previous.load[idx[idx >= 0]]
    return {"n": int(base["n"]), "changed": changed}
