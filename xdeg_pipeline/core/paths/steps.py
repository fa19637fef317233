"""Mode ``steps`` (``steps = X``): exactly X intermediate images, the least possible largest step.

Exact dynamic programming over hop count gives, for every vertex v and h, ``B[h][v]`` = the
least largest step over *walks* of exactly h edges from s to v (a min-max product per hop over
the arcs, :func:`walk_bounds`). ``B[X+1][t]`` is a lower bound for *simple* chains, since every
chain is a walk. Walks may revisit images (e.g. bounce back and forth to use up hops), so the
chain is recovered by a depth-first search backwards from t (:func:`simple_chain`) that only
steps to unvisited u from which s is reachable in the remaining hops under tau (an exact
oracle, :func:`walk_costs`), so the search follows optimal walks and only backtracks when a
walk would repeat an image. At ``tau = B[X+1][t]`` a simple chain found this way is optimal (it
meets the lower bound; the usual case, ``Chain.optimal``). Otherwise tau is raised by binary
search over the sorted edge weights (feasibility is monotone in tau) to the smallest tau where
a simple chain exists. Exact-length simple paths are NP-hard in general (X = n - 2 is a
Hamiltonian path), so the search has a node budget; a chain is marked ``optimal=False`` only
if the budget cut a search below its tau. Long-range (landmark) edges are allowed.

Two refinements (both off with their setting at 0): the depth-first search starts at
``tau = B[X+1][t] * (1 + steps_slack)``: within that cap it follows the cheapest walk under the
hub-damped step cost (:mod:`.costs`), so chains spread over equally good images instead of all
passing the few that are exactly minimax; and it first looks for a chain under that cap
without near-duplicate steps, allowing them (at a large cost each) only if there is none.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.sparse.csgraph import dijkstra

from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.search import Query, SearchSpace


class _Budget(Exception):
    """The depth-first search ran past its node budget."""


def _hop_table(
    arcs: Arcs, s: int, hops: int, arc_value: np.ndarray, combine: Callable
) -> np.ndarray:
    """``T[h][v]`` = min over arcs u->v of ``combine(T[h-1][u], arc_value)``; ``T[0]`` = 0 at s."""
    T = np.full((hops + 1, arcs.n), np.inf)
    T[0, s] = 0.0
    nonempty = arcs.indptr[:-1] < arcs.indptr[1:]
    starts = arcs.indptr[:-1][nonempty]
    if len(starts):
        for h in range(1, hops + 1):
            T[h][nonempty] = np.minimum.reduceat(combine(T[h - 1][arcs.nbr], arc_value), starts)
    return T


def walk_bounds(arcs: Arcs, s: int, hops: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """``B[h][v]``: least largest step over walks of exactly h edges from s to v."""
    aw = arcs.arc_w if allowed is None else np.where(allowed, arcs.arc_w, np.inf)
    return _hop_table(arcs, s, hops, aw, np.maximum)


def walk_costs(
    space: SearchSpace,
    s: int,
    hops: int,
    tau: float,
    allowed: np.ndarray | None,
    cost: np.ndarray | None = None,
) -> np.ndarray:
    """``C[h][v]``: least summed cost (per arc ``cost``, default the space's step cost) over
    walks of exactly h edges <= tau from s to v.

    ``C[h][v]`` is finite exactly when ``walk_bounds(...)[h][v] <= tau``.
    """
    ok = space.arcs.arc_w <= tau
    if allowed is not None:
        ok &= allowed
    cost = space.arc_cost if cost is None else cost
    return _hop_table(space.arcs, s, hops, np.where(ok, cost, np.inf), np.add)


def simple_chain(
    space: SearchSpace,
    s: int,
    t: int,
    hops: int,
    tau: float,
    allowed: np.ndarray | None,
    cost: np.ndarray | None = None,
) -> list[int] | None:
    """A simple chain of exactly ``hops`` edges, all <= tau, via DFS from t (or None).

    ``C = walk_costs(...)`` is an exact oracle for "s reaches u in exactly h steps <= tau";
    candidates are tried cheapest completion first, so the search follows the least-cost
    walk and departs from it only where the walk would repeat an image. Raises
    :class:`_Budget` when the search exceeds the node budget.
    """
    arcs = space.arcs
    cost = space.arc_cost if cost is None else cost
    C = walk_costs(space, s, hops, tau, allowed, cost)
    if not np.isfinite(C[hops][t]):
        return None
    on_path = np.zeros(space.n, bool)

    def candidates(v: int, rem: int) -> np.ndarray:
        lo, hi = arcs.indptr[v], arcs.indptr[v + 1]
        u = arcs.nbr[lo:hi]
        via = C[rem - 1][u] + cost[lo:hi]
        ok = (arcs.arc_w[lo:hi] <= tau) & np.isfinite(via) & ~on_path[u]
        if allowed is not None:
            ok &= allowed[lo:hi]
        ok &= (u == s) if rem == 1 else (u != s)
        u, via = u[ok], via[ok]
        return u[np.lexsort((u, via))]

    path = [t]
    on_path[t] = True
    stack = [candidates(t, hops)]
    pos = [0]
    expanded = 0
    while stack:
        c, i = stack[-1], pos[-1]
        if i >= len(c):
            stack.pop()
            pos.pop()
            on_path[path.pop()] = False
            continue
        pos[-1] += 1
        u = int(c[i])
        if on_path[u]:
            continue
        rem = hops - len(path)  # edges still needed after stepping to u
        path.append(u)
        on_path[u] = True
        if rem == 0:
            return path[::-1]
        expanded += 1
        if expanded > space.search_budget:
            raise _Budget()
        stack.append(candidates(u, rem))
        pos.append(0)
    return None


def _no_walk(space: SearchSpace, q: Query, allowed: np.ndarray | None) -> PathError:
    """Why no walk of exactly X + 1 edges joins s and t: disconnected, or too far apart."""
    arcs, x = space.arcs, int(q.steps)
    keep = np.ones(len(arcs.arc_e), bool) if allowed is None else allowed
    d = dijkstra(arcs.csr(keep, np.ones(len(arcs.arc_e))), indices=q.s)[q.t]
    if not np.isfinite(d):
        return PathError("no chain between these images with the given constraints")
    if d > x + 1:
        return PathError(
            f"no chain with exactly {x} intermediate images: these two need at least "
            f"{int(d) - 1} in this graph"
        )
    return PathError(f"no chain with exactly {x} intermediate images in this graph")


def search(space: SearchSpace, q: Query) -> Chain:
    """The chain of exactly ``q.steps`` intermediate images with the least largest step (the
    cheapest one within ``steps_slack`` of it), without near-duplicate steps if a chain within
    that cap avoids them."""
    s, t, hops = q.s, q.t, int(q.steps) + 1
    allowed = q.allowed(space.arcs) if q.constrained else None
    lb = float(walk_bounds(space.arcs, s, hops, allowed)[hops][t])
    if not math.isfinite(lb):
        raise _no_walk(space, q, allowed)
    cap = lb * (1.0 + space.steps_slack)
    nd = space.near_dup_arc
    if space.near_dup_penalty > 0 and not space.exempt(s, t) and nd.any():
        clean = ~nd if allowed is None else allowed & ~nd
        try:
            path = simple_chain(space, s, t, hops, cap, clean, space.floored(cap))
        except _Budget:
            path = None
        if path is not None:
            c = space.chain(path, "steps", lb)
            c.optimal = c.largest_step <= lb
            return c
    return _search(space, q, allowed, space.arc_costs(q, cap=cap), lb)


def _search(space: SearchSpace, q: Query, allowed: np.ndarray | None, cost: np.ndarray,
            lb: float) -> Chain:
    """The cheapest chain under ``lb * (1 + steps_slack)`` over the arcs ``allowed`` if there is
    one, else the least largest step above that, by binary search over the edge weights."""
    s, t, hops = q.s, q.t, int(q.steps) + 1

    def attempt(tau: float) -> tuple[list[int] | None, bool]:
        try:
            return simple_chain(space, s, t, hops, tau, allowed, cost), True
        except _Budget:
            return None, False

    start = lb * (1.0 + space.steps_slack)
    path, proven_below = attempt(start)
    if path is not None:
        c = space.chain(path, "steps", lb)
        c.optimal = c.largest_step <= lb  # within the slack it may have taken a larger step
        return c
    pool = space.arcs.arc_w if allowed is None else space.arcs.arc_w[allowed]
    taus = np.unique(pool[pool > start])
    best = None
    lo, hi = -1, len(taus)  # taus[lo] infeasible (lo=-1: start), taus[hi] feasible
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found, proven = attempt(float(taus[mid]))
        if found is not None:
            best, hi = found, mid
        else:
            lo, proven_below = mid, proven
    if best is None:
        raise PathError(
            f"no chain with exactly {q.steps} intermediate images (without repeating an image) "
            "in this graph"
        )
    return space.chain(best, "steps", lb, optimal=proven_below and lo == hi - 1)
