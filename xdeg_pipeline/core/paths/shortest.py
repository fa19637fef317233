"""Mode ``shortest``: least sum of step distances (the original objective; Dijkstra)."""

from __future__ import annotations

from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.search import Query, SearchSpace


def search(space: SearchSpace, q: Query) -> Chain:
    """The least-sum chain over the kNN edges (long-range edges only if ``avoid`` cut them)."""
    arcs = space.arcs
    allowed = q.allowed(arcs)
    try:
        path = arcs.cheapest_path(q.s, q.t, allowed & arcs.base_arc, arcs.arc_w)
    except PathError:  # only when `avoid` cut the kNN graph: the long-range edges may help
        path = arcs.cheapest_path(q.s, q.t, allowed, arcs.arc_w)
    return space.chain(path, "shortest", 0.0)
