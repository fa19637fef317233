"""Mode ``shortest``: least sum of step distances (the original objective; Dijkstra).

Near-duplicate steps cost ``params.NEAR_DUP_PENALTY`` natural steps extra (unless the source
and target are near-duplicates of each other), so a chain takes one only where it must.
"""

from __future__ import annotations

from xdeg_pipeline.core import params
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.search import Query, SearchSpace


def search(space: SearchSpace, q: Query) -> Chain:
    """The least-sum chain over the kNN edges (long-range edges only if ``avoid`` cut them)."""
    arcs = space.arcs
    allowed = q.allowed(arcs)
    cost = arcs.arc_w
    if space.near_dup_penalty > 0 and not space.exempt(q.s, q.t):
        cost = cost + params.NEAR_DUP_PENALTY * space.scale.natural * space.near_dup_arc
    try:
        path = arcs.cheapest_path(q.s, q.t, allowed & arcs.base_arc, cost)
    except PathError:  # only when `avoid` cut the kNN graph: the long-range edges may help
        path = arcs.cheapest_path(q.s, q.t, allowed, cost)
    return space.chain(path, "shortest", 0.0)
