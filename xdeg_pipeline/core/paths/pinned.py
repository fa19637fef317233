"""Pinned chains: a chain someone shared stays the same while every step of it still exists.

A shared link carries the chain's images (issue 21). :func:`check_pinned` says whether that
chain is still a chain of the graph that answers the request (same ends, every step an edge,
no near-duplicate step the request would avoid, the number of steps ``steps`` asks for);
:func:`better_than` says whether the chain found today is truly better in the mode's own terms,
so the page can offer it without replacing what was shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xdeg_pipeline.core.paths.chain import Chain
from xdeg_pipeline.core.paths.search import SearchSpace

BETTER_LARGEST = 0.97  # today's chain is better if its largest step is under this x the pinned
BETTER_COST = 0.8  # ... or (smooth) its summed step cost is under this x the pinned one's


def check_pinned(space: SearchSpace, vertices: Sequence[int], s: int, t: int, mode: str,
                 steps: int | None = None) -> tuple[Chain | None, str]:
    """(the pinned chain, "") when ``vertices`` still make a chain for this request, else
    (None, one line saying why not)."""
    v = [int(x) for x in vertices]
    if len(v) < 2 or v[0] != s or v[-1] != t:
        return None, "the pinned chain does not join the source and the target"
    if len(set(v)) != len(v):
        return None, "the pinned chain repeats an image"
    if mode == "steps" and steps is not None and len(v) != steps + 2:
        return None, f"the pinned chain has {len(v) - 2} intermediate images, not {steps}"
    arcs = space.arcs
    j = arcs.arc_of(np.array(v[:-1]), np.array(v[1:]))
    if (j < 0).any():
        k = int(np.flatnonzero(j < 0)[0])
        return None, f"step {k + 1} of the pinned chain is no longer an edge of the graph"
    if not space.exempt(s, t) and space.near_dup_penalty > 0 and space.near_dup_arc[j].any():
        return None, "the pinned chain has a near-duplicate step"
    chain = space.chain(v, mode, 0.0)
    return chain, ""


def chain_cost(space: SearchSpace, vertices: Sequence[int]) -> float:
    """The summed step cost (as ``smooth`` minimises it, without the floor) of a chain."""
    v = np.asarray(vertices, dtype=np.int64)
    if len(v) < 2:
        return 0.0
    return float(space.arc_cost[space.arcs.arc_of(v[:-1], v[1:])].sum())


def better_than(space: SearchSpace, fresh: Chain, pinned: Chain, mode: str) -> bool:
    """True when ``fresh`` (found today) is truly better than ``pinned`` for this mode: a
    clearly smaller largest step, or (shortest) fewer steps, or (smooth) a clearly lower cost
    under no larger a largest step."""
    if fresh.vertices == pinned.vertices:
        return False
    if fresh.largest_step < BETTER_LARGEST * pinned.largest_step:
        return True
    if mode == "shortest":
        return fresh.hops < pinned.hops
    if mode == "smooth" and fresh.largest_step <= pinned.largest_step:
        return chain_cost(space, fresh.vertices) < BETTER_COST * chain_cost(space, pinned.vertices)
    return False
