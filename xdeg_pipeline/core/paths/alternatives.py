"""Alternative chains: each next chain takes a different route from the chains before it.

It avoids the interior images of the earlier chains (sharing only cut vertices, which every
route must pass, if that is what it takes); if that disconnects s from t, it avoids only the
middle image of each earlier chain. A direct s-t step, once used, is forbidden as an edge.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import Chain, PathError

# a search under extra bans: (banned vertices n-mask, banned edges m-mask or None) -> Chain
Search = Callable[[np.ndarray, np.ndarray | None], Chain]


def next_alternative(
    arcs: Arcs, chains: list[Chain], base_ban: np.ndarray, search: Search, cut: set[int]
) -> Chain | None:
    """A chain different from all in ``chains`` (a new route if there is one), else None."""
    seen = {tuple(c.vertices) for c in chains}
    ban_e = None
    direct = [c for c in chains if len(c.vertices) == 2]
    if direct:  # the direct step was used: forbid that edge
        a, b = direct[0].vertices
        ban_e = np.zeros(len(arcs.w), bool)
        ban_e[arcs.edges_between(a, b)] = True
    interiors = {v for c in chains for v in c.vertices[1:-1]}
    attempts = [  # new routes; sharing only unavoidable cut vertices first
        sorted(interiors - cut),
        sorted(interiors),
        sorted({c.vertices[len(c.vertices) // 2] for c in chains if len(c.vertices) > 2}),
    ]
    tried: list[list[int]] = []
    for banned in attempts:
        if banned in tried:
            continue
        tried.append(banned)
        ban_v = base_ban.copy()
        ban_v[banned] = True
        try:
            c = search(ban_v, ban_e)
        except PathError:
            continue
        if tuple(c.vertices) not in seen:
            return c
    return None
