"""Waypoints: a chain through given images in order, one leg per consecutive pair of stops.

Each leg is searched in the requested mode, without the images earlier legs used and without
the stops that are not its own ends, so the whole chain never repeats an image. With
``steps = X`` the X intermediate images include the waypoints; the others are spread over the
legs (:func:`spread_hops`) so that the largest step of the whole chain is as small as the
legs' exact walk bounds allow (then the legs' bounds summed as small as possible); the spread
is redone before every leg, under the bans the legs found so far impose, and a leg whose chain
would leave the later legs no way through is searched again with another hop count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.search import Query, SearchSpace
from xdeg_pipeline.core.paths.steps import walk_bounds

Leg = Callable[[Query], Chain]


def spread_hops(bounds: list[np.ndarray], total: int) -> list[int]:
    """Edges per leg (each >= 1, summing to ``total``) minimising the largest of
    ``bounds[i][h_i]`` (leg i's least largest step with exactly h_i edges), then their sum.

    Dynamic programming over the legs: O(legs x total^2) array operations.
    """
    legs = len(bounds)
    if total < legs:
        raise PathError(f"{legs} legs need at least {legs - 1} intermediate images")
    H = total + 1
    big = np.full(H, np.inf)
    best_m, best_s = big.copy(), big.copy()
    best_m[0] = best_s[0] = 0.0
    choice = np.zeros((legs, H), dtype=np.int64)
    hh = np.arange(H)
    for i, b in enumerate(bounds):
        bi = np.full(H, np.inf)
        bi[1 : min(H, len(b))] = np.asarray(b, dtype=np.float64)[1:H]
        # cand[Htot, h] = leg i takes h edges of Htot used so far
        prev_idx = hh[:, None] - hh[None, :]
        valid = (prev_idx >= 0) & (hh[None, :] >= 1)
        pm = np.where(valid, best_m[np.clip(prev_idx, 0, H - 1)], np.inf)
        ps = np.where(valid, best_s[np.clip(prev_idx, 0, H - 1)], np.inf)
        m = np.maximum(pm, bi[None, :])
        s = ps + bi[None, :]
        low = m.min(axis=1, keepdims=True)
        s_tie = np.where(m <= low, s, np.inf)
        pick = np.argmin(s_tie, axis=1)
        choice[i] = pick
        best_m, best_s = m[hh, pick], s_tie[hh, pick]
    if not np.isfinite(best_m[total]):
        raise PathError(f"no chain through the waypoints with exactly {total - 1} "
                        "intermediate images in this graph")
    hops, rest = [], total
    for i in range(legs - 1, -1, -1):
        h = int(choice[i][rest])
        hops.append(h)
        rest -= h
    return hops[::-1]


def leg_bans(stops: list[int], i: int, used: set[int], base: np.ndarray | None,
             n: int) -> np.ndarray:
    """Banned vertices of leg i: the query's bans, images earlier legs used (its start
    excepted) and every stop that is not an end of this leg."""
    ban = np.zeros(n, bool) if base is None else base.copy()
    ban[list(used)] = True
    ban[stops] = True
    ban[stops[i]] = ban[stops[i + 1]] = False
    return ban


MAX_LEG_TRIES = 8  # steps: hop counts tried for one leg before the request fails


def _spread(space: SearchSpace, stops: list[int], i: int, used: set[int],
            ban_v: np.ndarray | None, ban_e: np.ndarray | None, edges: int) -> list[int]:
    """``edges`` spread over legs i.. by their walk bounds under today's bans (earlier legs'
    images and the other stops)."""
    bounds = []
    for j in range(i, len(stops) - 1):
        allowed = space.arcs.allowed(leg_bans(stops, j, used, ban_v, space.n), ban_e)
        table = walk_bounds(space.arcs, stops[j], edges, allowed)
        bounds.append(table[:, stops[j + 1]])
    return spread_hops(bounds, edges)


def _leg(run: Leg, space: SearchSpace, stops: list[int], i: int, used: set[int],
         ban_v: np.ndarray | None, ban_e: np.ndarray | None, edges: int | None) -> Chain:
    """Leg i; with ``edges`` left (steps), the spread's hop count first, then others near it,
    keeping the first whose chain leaves the later legs a way through."""
    ban = leg_bans(stops, i, used, ban_v, space.n)
    ban = ban if ban.any() else None
    if edges is None:
        return run(Query(stops[i], stops[i + 1], None, ban, ban_e))
    last = i == len(stops) - 2
    want = _spread(space, stops, i, used, ban_v, ban_e, edges)[0]
    room = range(1, edges - (len(stops) - 2 - i) + 1)
    error: PathError | None = None
    for h in sorted(room, key=lambda h: (abs(h - want), h))[:MAX_LEG_TRIES]:
        try:
            leg = run(Query(stops[i], stops[i + 1], h - 1, ban, ban_e))
        except PathError as exc:
            error = error or exc
            continue
        if last:
            return leg
        try:  # do the later legs still have a way through?
            _spread(space, stops, i + 1, used | set(leg.vertices[:-1]), ban_v, ban_e, edges - h)
        except PathError as exc:
            error = error or exc
            continue
        return leg
    raise error or PathError("no chain through the waypoints in this graph")


def through(space: SearchSpace, run: Leg, stops: list[int], steps: int | None,
            ban_v: np.ndarray | None, ban_e: np.ndarray | None, mode: str) -> Chain:
    """The chain ``stops[0] -> ... -> stops[-1]`` passing every stop in order."""
    if len(set(stops)) != len(stops):
        raise PathError("the source, the target and the waypoints must be different images")
    legs = len(stops) - 1
    edges = None if steps is None else steps + 1
    vertices: list[int] = [stops[0]]
    used: set[int] = set()
    bound, optimal = 0.0, True
    for i in range(legs):
        try:
            leg = _leg(run, space, stops, i, used, ban_v, ban_e, edges)
        except PathError as exc:
            raise PathError(f"leg {i + 1} of {legs} ({stops[i]} -> {stops[i + 1]}): {exc}"
                            ) from None
        if edges is not None:
            edges -= leg.hops
        used.update(leg.vertices[:-1])
        vertices.extend(leg.vertices[1:])
        bound, optimal = max(bound, leg.bound), optimal and leg.optimal
    c = space.chain(vertices, mode, bound, optimal)
    c.via = list(stops[1:-1])
    return c
