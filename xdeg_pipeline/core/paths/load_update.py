"""The hub load brought up to date from the previous graph's instead of estimated afresh.

A fresh estimate (:func:`~.load.estimate_load`: ``params.LOAD_ROUNDS`` rounds of
``params.LOAD_SOURCES`` shortest-path trees) ran on every build, and the images both graphs hold
then took the carried load (:func:`~.load.carry_load`, issue 21), so only the new images used it.
On 4,000 images + 40 it cost 2.0 CPU s against 0.6 for the whole structure built in bulk
(``python -m benchmarks.graph_update``, one thread's process time).

Here, when the previous graph's load can be carried (same settings and basis, at most
``params.LOAD_KEEP_SHARE`` of the images added or removed since it was estimated fresh), the
kept images keep their load exactly (as before) and the new images get theirs by
``params.LOAD_UPDATE_ROUNDS`` rounds of the same simulation going on from the carried load, each
new image starting from the median of its kNN neighbours' (:func:`neighbour_load`; the start
counts as one round). The work is ``LOAD_UPDATE_ROUNDS / LOAD_ROUNDS`` of a fresh estimate
whatever the number added, so the update is the cheaper at every size; the switch back to a
fresh estimate is ``LOAD_KEEP_SHARE`` (drift of the load, not cost).

Measured by ``python -m benchmarks.graph_update --sizes 4000`` (128-d clustered, + 1 %; the 40
new images' load against the fresh estimate's; their fresh mean 0.0127, one of them a bridge
end at 0.48): neighbours' median alone, 0.11 CPU s, mean absolute difference 0.0126,
correlation 0.02 (a new image at the end of a bridge carries the chains across it, which no
neighbour does); + 1 round 0.35 s, 0.0083, 0.94; + 2 rounds 0.39 s, 0.0058, 0.98; + 4 rounds
(the default) 0.56 s, 0.0036, 0.996; the fresh estimate with the carry 2.0 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.near_duplicates import (
    edge_ends,
    find_near_duplicates,
    near_dup_distance,
)
from xdeg_pipeline.core.graph.sampling import graph_keys
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.costs import StepCost
from xdeg_pipeline.core.paths.load import (
    attach_hub_load,
    carried_scale,
    carry_load,
    estimate_load,
)


@dataclass(frozen=True)
class LoadUpdate:
    """How the load was made: ``mode`` ``"update"`` (carried; the new images' estimated going
    on from it) or ``"rebuild"`` (estimated afresh, with the reason); ``estimated``: images
    whose load was made this run, ``carried``: images that kept theirs."""

    mode: str
    reason: str = ""
    estimated: int = 0
    carried: int = 0


def _why_fresh(previous: ig.Graph | None) -> str:
    if previous is None:
        return "no previous graph"
    return ("previous load not carried (other settings or basis, or more than "
            f"{params.LOAD_KEEP_SHARE:.0%} of the images changed since it was estimated)")


def neighbour_load(graph: ig.Graph, load: np.ndarray) -> np.ndarray:
    """``load`` with each NaN (a new image) replaced by the median of its kNN neighbours'
    values (landmark edges left out), in passes while some new image has valued neighbours;
    what is left takes the median of the kept images."""
    out = np.array(load, dtype=np.float64)
    long = np.asarray(graph.es["long"] if "long" in graph.es.attributes()
                      else [False] * graph.ecount(), dtype=bool)
    ends = np.column_stack(edge_ends(graph))[~long]
    ends = np.concatenate([ends, ends[:, ::-1]])
    kept_median = float(np.median(out[~np.isnan(out)])) if (~np.isnan(out)).any() else 0.0
    while np.isnan(out).any():
        todo = ends[np.isnan(out[ends[:, 0]]) & ~np.isnan(out[ends[:, 1]])]
        if not len(todo):
            break
        todo = todo[np.argsort(todo[:, 0], kind="stable")]
        starts = np.flatnonzero(np.r_[True, todo[1:, 0] != todo[:-1, 0]])
        for lo, hi in zip(starts, np.r_[starts[1:], len(todo)], strict=True):
            out[todo[lo, 0]] = float(np.median(out[todo[lo:hi, 1]]))
    out[np.isnan(out)] = kept_median
    return out


def update_hub_load(graph: ig.Graph, previous: ig.Graph | None = None, basis: str = ""
                    ) -> tuple[ig.Graph, LoadUpdate]:
    """Store in ``graph`` the hub load a default finder uses, as
    :func:`~.load.attach_hub_load` does, estimating only the new images' when ``previous``'s
    load can be carried (see the module docstring)."""
    cost = StepCost.of()
    n = graph.vcount()
    if cost.hub_penalty <= 0 or previous is None:
        return attach_hub_load(graph, previous, basis), LoadUpdate(
            "rebuild", _why_fresh(previous) if previous is None else "no hub penalty", n, 0)
    scale = find_near_duplicates(graph).scale
    load_params = cost.load_params(scale.near_dup)
    load = np.full(n, np.nan)
    kept = carry_load(graph, previous, load, load_params, basis)
    new = np.isnan(load)
    if new.all():
        return attach_hub_load(graph, None, basis), LoadUpdate("rebuild", _why_fresh(previous),
                                                              n, 0)
    start = neighbour_load(graph, load)
    if new.any() and params.LOAD_UPDATE_ROUNDS > 0:
        went_on = estimate_load(Arcs(graph), cost, rounds=params.LOAD_UPDATE_ROUNDS,
                                scale=scale, keys=graph_keys(graph), start=start)
        start[new] = went_on[new]
    graph.vs["load"] = start.tolist()
    path_scale = carried_scale(graph, previous, kept)
    graph["params"]["load_params"] = {
        **load_params, "near_dup": near_dup_distance(graph, scale=path_scale)}
    graph["params"]["load_base"] = {**kept, "basis": basis}
    graph["params"]["path_scale"] = path_scale
    return graph, LoadUpdate("update", "", int(new.sum()), int((~new).sum()))
