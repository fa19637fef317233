"""Mode ``smooth`` (default): a small largest step, in as few steps as it allows, each natural.

The least possible largest step between s and t (the *bottleneck* b) comes from the minimum
spanning tree (:mod:`.tree`). The chain may only use edges <= the cap
max(b, floor * natural step) * (1 + slack); of the chains under the cap it has the fewest
steps (``params.SMOOTH_FEWEST_STEPS``, :mod:`.fewest`: no crawling through a series or any
dense part of the collection in many short steps where a few reach as far), and of those the
least cost (without it: the least-cost chain under the cap). Below the collection's natural
step a smaller largest step buys nothing a viewer can see, and between two members of a
near-continuous series b is tiny, so without the floor a chain would have to wade through the
series. The cost (:mod:`.costs`) is a power of the step distance (a soft minimax) plus a
constant per step, times a penalty on images that many chains pass through (hubs), plus a
large penalty per near-duplicate step (no near-duplicate step is taken to save one). With
``slack = 0`` and ``floor = 0`` the largest step equals b exactly. Above
``params.LOCAL_SEARCH_ABOVE`` images the search is confined to a corridor around the tree path
(:mod:`.corridor`), counting steps first there too. Where the finder holds the images' vectors,
a short series step is skipped when the images around it are within the chain's largest step
of each other (:mod:`.skip`).
"""

from __future__ import annotations

import math

from xdeg_pipeline.core import params
from xdeg_pipeline.core.paths import corridor
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.fewest import fewest_steps_search
from xdeg_pipeline.core.paths.search import Query, SearchSpace
from xdeg_pipeline.core.paths.spare import with_spare_steps
from xdeg_pipeline.core.paths.tree import masked_bottleneck


def search(space: SearchSpace, q: Query) -> Chain:
    """The smoothest chain: largest step <= :meth:`~.search.SearchSpace.cap` of the bottleneck,
    least cost below it."""
    arcs, s, t = space.arcs, q.s, q.t
    if not q.constrained:
        allowed = arcs.base_arc
        b = space.tree.bottleneck(s, t)
        if space.n > params.LOCAL_SEARCH_ABOVE and math.isfinite(b):
            return space.smooth_chain(corridor.smooth_chain(space, q, b), b)
    else:
        allowed = q.allowed(arcs) & arcs.base_arc
        b = masked_bottleneck(arcs, s, t, allowed)
        if not math.isfinite(b):  # `avoid` cut the kNN graph: allow long-range edges
            allowed = q.allowed(arcs)
            b = masked_bottleneck(arcs, s, t, allowed)
    if not math.isfinite(b):
        raise PathError("no chain between these images with the given constraints")
    cap = space.cap(b)
    keep = (arcs.arc_w <= cap) & allowed
    cost = space.arc_costs(q, cap=cap)
    if space.fewest_first(q):
        counted = keep & space.counted_arcs()
        A, units = arcs.csr(counted, cost), space.step_units(cap, counted)
        path, from_s = fewest_steps_search(A, s, t, units=units)
        if path is not None:
            path = with_spare_steps(A, path, space.spare(units), space.largest_step, from_s, b)
            return space.smooth_chain(path, b)
    # the least-cost chain: where counting steps first is off, or every chain under the cap
    # takes a near-duplicate step (a large penalty each, so it takes as few as it must)
    return space.smooth_chain(arcs.cheapest_path(s, t, keep, cost), b)
