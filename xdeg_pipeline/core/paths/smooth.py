"""Mode ``smooth`` (default): minimise the largest step, then keep the chain short.

The least possible largest step between s and t (the *bottleneck* b) comes from the minimum
spanning tree (:mod:`.tree`). The chain is then the least-cost path using only edges
<= b * (1 + slack); the cost is a power of the step distance (a soft minimax) times a penalty
on images that many chains pass through (hubs; :mod:`.costs`). With ``slack = 0`` the largest
step equals b exactly. Above ``params.LOCAL_SEARCH_ABOVE`` images the search is confined to a
corridor around the tree path (:mod:`.corridor`).
"""

from __future__ import annotations

import math

from xdeg_pipeline.core import params
from xdeg_pipeline.core.paths import corridor
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.search import Query, SearchSpace
from xdeg_pipeline.core.paths.tree import masked_bottleneck


def search(space: SearchSpace, q: Query) -> Chain:
    """The smoothest chain: largest step <= bottleneck * (1 + slack), least cost below it."""
    arcs, s, t = space.arcs, q.s, q.t
    if not q.constrained:
        allowed = arcs.base_arc
        b = space.tree.bottleneck(s, t)
        if space.n > params.LOCAL_SEARCH_ABOVE and math.isfinite(b):
            return space.chain(corridor.smooth_chain(space, s, t, b), "smooth", b)
    else:
        allowed = q.allowed(arcs) & arcs.base_arc
        b = masked_bottleneck(arcs, s, t, allowed)
        if not math.isfinite(b):  # `avoid` cut the kNN graph: allow long-range edges
            allowed = q.allowed(arcs)
            b = masked_bottleneck(arcs, s, t, allowed)
    if not math.isfinite(b):
        raise PathError("no chain between these images with the given constraints")
    keep = (arcs.arc_w <= b * (1.0 + space.slack)) & allowed
    path = arcs.cheapest_path(s, t, keep, space.arc_cost)
    return space.chain(path, "smooth", b)
