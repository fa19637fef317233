"""Pinned chains: a chain someone shared stays the same while every step of it still exists.

A shared link carries the chain's images (issue 21). :func:`check_pinned` says whether that
chain is still a chain of the graph that answers the request (same ends, every step an edge or,
measured, a step between two images still there; no near-duplicate step the request would
avoid, the number of steps ``steps`` asks for);
:func:`better_than` says whether the chain found today is truly better in the mode's own terms,
so the page can offer it without replacing what was shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xdeg_pipeline.core.paths.chain import Chain, make_chain
from xdeg_pipeline.core.paths.search import Measured, SearchSpace

# today's chain is better if its largest step is under BETTER_LARGEST x the pinned one's. 0.97
# replaced chains for a largest step 3-9 % smaller, mostly through one of the images just added;
# a same-picture edit (JPEG, 5 % zoom) moves an image further than that (0.12-0.14 chord, issue
# 12). Chains answered again after 1 % OpenMoji were added (python -m benchmarks.path_quality
# FOLDER --spaces full --modes smooth,steps --stability data/openmoji/images; 200 pairs),
# smooth / steps 7, 0.97 -> 0.9: flower series 0.96 / 0.92 -> 0.975 / 0.97, star series 0.985 /
# 0.975 -> 0.985 / 0.995, Tux Paint 0.99 / 0.97 -> 0.99 / 1.0, uneven 0.99 / 0.985 -> 0.99 /
# 0.995 (issue 21).
BETTER_LARGEST = 0.9
BETTER_COST = 0.8  # ... or (smooth) its summed step cost is under this x the pinned one's
BETTER_HOPS = 0.75  # ... or (smooth, steps counted first) at most this x its steps, both capped


def with_measured(space: SearchSpace, v: np.ndarray, gone: np.ndarray,
                  measured: Measured | None) -> Measured:
    """``measured`` with the steps ``v[k] -> v[k + 1]`` (``k`` in ``gone``: not edges) it lacks
    measured by the space's vectors, where it has them: a skipped image (:mod:`.skip`), or a
    step whose edge a rebuild dropped (new images took its place in both ends' kNN lists)."""
    measured = dict(measured or {})
    missing = [(int(v[k]), int(v[k + 1])) for k in gone
               if (int(v[k]), int(v[k + 1])) not in measured]
    if missing and space.measure is not None:
        u, w = np.array(missing, dtype=np.int64).T
        measured.update(space.measure(u, w))
    return measured


def check_pinned(space: SearchSpace, vertices: Sequence[int], s: int, t: int, mode: str,
                 steps: int | None = None, measured: Measured | None = None
                 ) -> tuple[Chain | None, str]:
    """(the pinned chain, "") when ``vertices`` still make a chain for this request, else
    (None, one line saying why not). ``measured``: steps that are no longer edges (new images
    took their places in both ends' neighbour lists) with their length and cost, measured in
    the graph's space: such a step is as long as it was, and the chain still holds."""
    v = [int(x) for x in vertices]
    if len(v) < 2 or v[0] != s or v[-1] != t:
        return None, "the pinned chain does not join the source and the target"
    if len(set(v)) != len(v):
        return None, "the pinned chain repeats an image"
    if mode == "steps" and steps is not None and len(v) != steps + 2:
        return None, f"the pinned chain has {len(v) - 2} intermediate images, not {steps}"
    j = space.arcs.arc_of(np.array(v[:-1]), np.array(v[1:]))
    gone = [int(k) for k in np.flatnonzero(j < 0)]
    measured = with_measured(space, np.array(v), np.array(gone, dtype=np.int64), measured)
    lost = [k for k in gone if (v[k], v[k + 1]) not in measured]
    if lost:
        return None, f"step {lost[0] + 1} of the pinned chain is no longer an edge of the graph"
    lengths = space.arcs.arc_w[j].astype(np.float64)
    for k in gone:
        lengths[k] = measured[(v[k], v[k + 1])][0]
    near_dup = space.near_dup_arc[j[j >= 0]].any() or any(
        lengths[k] < space.scale.near_dup for k in gone)
    if not space.exempt(s, t) and space.near_dup_penalty > 0 and near_dup:
        return None, "the pinned chain has a near-duplicate or recoloured step"
    return make_chain(v, lengths.tolist(), mode, 0.0), ""


def chain_cost(space: SearchSpace, vertices: Sequence[int],
               measured: Measured | None = None, cap: float = 0.0) -> float:
    """The summed step cost of a chain as ``smooth`` minimises it: with the chain's ``cap``
    (its largest step allowed), sized against it (:meth:`~.search.SearchSpace.floored`, what
    the search compares); without, the plain cost. A step that is no longer an edge costs what
    ``measured`` says."""
    v = np.asarray(vertices, dtype=np.int64)
    if len(v) < 2:
        return 0.0
    j = space.arcs.arc_of(v[:-1], v[1:])
    gone = np.flatnonzero(j < 0)
    measured = with_measured(space, v, gone, measured)
    extra = sum(measured[(int(v[k]), int(v[k + 1]))][1] for k in gone)
    kept = j[j >= 0]
    cost = space.floored(cap, kept) if cap > 0 else space.arc_cost[kept]
    return float(cost.sum()) + float(extra)


def better_than(space: SearchSpace, fresh: Chain, pinned: Chain, mode: str,
                measured: Measured | None = None) -> bool:
    """True when ``fresh`` (found today) is truly better than ``pinned`` for this mode: a
    clearly smaller largest step, or (shortest) fewer steps, or (smooth) a clearly lower cost
    under no larger a largest step (``measured``: the pinned chain's steps that are no longer
    edges, as :func:`check_pinned` took them). Where smooth counts steps first
    (``space.fewest_steps``) and both chains are under today's cap, it compares as the search
    does: clearly fewer steps (at most ``BETTER_HOPS`` x, counted as it counts them:
    :meth:`~.search.SearchSpace.counted_steps`) are better, more never, and between
    chains of as many steps a clearly lower cost (the largest step aside: the search chose
    by cost among them too)."""
    if fresh.vertices == pinned.vertices:
        return False
    if mode == "smooth" and space.fewest_steps:
        cap = space.cap(fresh.bound) if fresh.bound > 0 else float("inf")
        if pinned.largest_step <= cap * (1 + 1e-9):  # both under the cap: steps, then cost
            now, then = (space.counted_steps(c.steps, cap) for c in (fresh, pinned))
            if now != then:
                return now <= BETTER_HOPS * then
            sized = cap if np.isfinite(cap) else 0.0
            return (chain_cost(space, fresh.vertices, cap=sized)
                    < BETTER_COST * chain_cost(space, pinned.vertices, measured, cap=sized))
    if fresh.largest_step < BETTER_LARGEST * pinned.largest_step:
        return True
    if mode == "shortest":
        return fresh.hops < pinned.hops
    if mode == "smooth" and fresh.largest_step <= pinned.largest_step:
        return (chain_cost(space, fresh.vertices)
                < BETTER_COST * chain_cost(space, pinned.vertices, measured))
    return False
