"""Chains between two images of the similarity graph.

Modes (``MODES``):

* ``shortest``: least sum of step distances (the original objective; Dijkstra).
* ``smooth`` (default): minimise the largest step, then keep the chain short. The least
  possible largest step between s and t (the *bottleneck* b) is the largest edge on their path
  in the graph's minimum spanning tree (a minimax path property), read in O(log n) from
  binary-lifting tables built once. The chain is then the least-cost path using only edges
  <= b * (1 + slack); the cost is a power of the step distance (a soft minimax) times a
  penalty on images that many chains pass through (hubs; see :meth:`_cost_array`).
  With ``slack = 0`` the largest step equals b exactly.
* ``steps`` (``steps = X``): exactly X intermediate images (X + 1 edges), the smallest possible
  largest step. Exact dynamic programming over hop count gives, for every vertex v and h,
  ``B[h][v]`` = the least largest step over *walks* of exactly h edges from s to v (a min-max
  product per hop over the edge list). ``B[X+1][t]`` is a lower bound for *simple* chains,
  since every chain is a walk. Walks may revisit images (e.g. bounce back and forth to use
  up hops), so the chain is recovered by a depth-first search backwards from t that only
  steps to unvisited u with ``max(w(u, v), B[h-1][u]) <= tau``: ``B`` is an exact oracle for
  "s reaches u in exactly h-1 steps <= tau", so the search follows optimal walks and only
  backtracks when a walk would repeat an image. At ``tau = B[X+1][t]`` a simple chain found
  this way is optimal (it meets the lower bound; this is the usual case, ``Chain.optimal``).
  Otherwise tau is raised by binary search over the sorted edge weights (feasibility is
  monotone in tau) to the smallest tau where a simple chain exists. Exact-length simple paths
  are NP-hard in general (X = n - 2 is a Hamiltonian path), so the search has a node budget;
  a chain is marked ``optimal=False`` only if the budget cut a search below its tau.

``alternatives = K`` returns up to K distinct chains: each next chain avoids the interior
images of the chains before it (a different route, not a one-image variation); if that
disconnects s from t, only the middle image of each earlier chain is avoided. ``avoid`` removes
images from the graph for the query. Results are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import igraph as ig
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import (
    breadth_first_order,
    connected_components,
    dijkstra,
    minimum_spanning_tree,
)

from xdeg_pipeline.core import params

MODES = ("shortest", "smooth", "steps")


@dataclass
class Chain:
    """A chain of vertices; ``steps[i]`` is the distance from ``vertices[i]`` to the next."""

    vertices: list[int]
    steps: list[float]
    largest_step: float
    total: float
    mode: str = "smooth"
    bound: float = 0.0  # least possible largest step under the mode's constraint (graph)
    optimal: bool = True  # largest_step proven to be the least possible (steps mode)

    @property
    def hops(self) -> int:
        return len(self.vertices) - 1


class PathError(ValueError):
    """No chain satisfies the request (or the request is malformed)."""


class _Budget(Exception):
    pass


def _subtree_sizes(pred: np.ndarray) -> np.ndarray:
    """Vertices in each subtree of a predecessor forest (unreached vertices: their own root).

    Vectorised: depths by pointer jumping (O(n log depth)), then sizes summed level by level
    from the deepest up.
    """
    n = len(pred)
    parent = np.where(pred >= 0, pred, np.arange(n))
    depth = (pred >= 0).astype(np.int64)
    anc = parent.copy()
    while True:  # list ranking: depth[v] += depth[anc[v]]; anc[v] = anc[anc[v]]
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        depth = depth + depth[anc]
        anc = nxt
    size = np.ones(n)
    order = np.argsort(-depth, kind="stable")
    for level in np.split(order, np.flatnonzero(np.diff(depth[order])) + 1):
        if depth[level[0]] == 0:
            break
        np.add.at(size, parent[level], size[level])  # deepest level first
    return size


class PathFinder:
    """Answers chain queries on one graph; precomputes the MST tables and adjacency arrays."""

    def __init__(
        self,
        graph: ig.Graph,
        slack: float | None = None,
        power: float | None = None,
        hub_penalty: float | None = None,
        search_budget: int | None = None,
    ) -> None:
        self.graph = graph
        self.n = graph.vcount()
        self.slack = params.SMOOTH_SLACK if slack is None else float(slack)
        self.power = params.SMOOTH_POWER if power is None else float(power)
        self.hub_penalty = params.HUB_PENALTY if hub_penalty is None else float(hub_penalty)
        self.search_budget = params.STEPS_SEARCH_BUDGET if search_budget is None else search_budget
        m = graph.ecount()
        el = np.array(graph.get_edgelist(), dtype=np.int64).reshape(m, 2)
        self.eu, self.ev = el[:, 0], el[:, 1]
        self.w = np.array(graph.es["weight"], dtype=np.float64) if m else np.zeros(0)
        has_long = m and "long" in graph.es.attributes()
        self.long_e = np.array(graph.es["long"], bool) if has_long else np.zeros(m, bool)
        if m and (not np.isfinite(self.w).all() or self.w.min() < 0):
            raise ValueError("edge weights must be finite and non-negative")
        self._build_arcs()
        self.base_arc = ~self.long_e[self.arc_e]  # arcs of shortest/smooth (no long-range)
        self._build_tree()
        self.load = self._graph_load()
        self.cost = self._cost_array(self.load)
        self.arc_cost = self.cost[self.arc_e]

    # ---------------------------------------------------------------- precomputation
    def _build_arcs(self) -> None:
        """CSR of arcs in both directions, rows sorted by neighbour id (deterministic)."""
        rows = np.concatenate([self.eu, self.ev])
        cols = np.concatenate([self.ev, self.eu])
        eids = np.concatenate([np.arange(len(self.eu))] * 2)
        order = np.lexsort((self.w[eids] if len(eids) else eids, cols, rows))
        self.arc_row = rows[order]
        self.nbr = cols[order]
        self.arc_e = eids[order]
        self.arc_w = self.w[self.arc_e]
        self.arc_key = self.arc_row * self.n + self.nbr  # sorted; first match = lightest
        counts = np.bincount(self.arc_row, minlength=self.n)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.degree = counts

    def _arc_of(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Index of the lightest arc a->b for each pair (-1 where not adjacent)."""
        key = np.asarray(a, dtype=np.int64) * self.n + np.asarray(b, dtype=np.int64)
        j = np.searchsorted(self.arc_key, key)
        jj = np.minimum(j, len(self.arc_key) - 1)
        found = (j < len(self.arc_key)) & (self.arc_key[jj] == key) if len(self.arc_key) else j < 0
        return np.where(found, jj, -1)

    def load_params(self) -> dict:
        """The settings a stored hub load was estimated with (must match to be reused)."""
        return {"power": self.power, "hub_penalty": self.hub_penalty, "version": 1}

    def _cost_array(self, load: np.ndarray) -> np.ndarray:
        """Per-edge cost minimised by ``smooth`` below its largest-step cap.

        ``(w / median w) ** power``: power 1 is the sum of distances (short, jumpy chains);
        a larger power penalises big steps more (a soft minimax: smoother, more hops). Times
        ``1 + hub_penalty * (load_u + load_v) / 2``: an image on a share ``load`` of all chains
        costs more to pass through, so chains spread over equally good routes instead of
        funnelling through a few connector images (hubs).
        """
        w = self.w
        if not len(w):
            return np.zeros(0)
        scale = float(np.median(w[w > 0])) if (w > 0).any() else 1.0
        cost = (w / scale) ** self.power
        if self.hub_penalty > 0:
            cost = cost * (1.0 + self.hub_penalty * (load[self.eu] + load[self.ev]) / 2.0)
        return np.maximum(cost, 1e-12)  # scipy reads stored zeros as edges; keep > 0 anyway

    def _graph_load(self) -> np.ndarray:
        """The hub load stored in the graph by ``build_graph``, else estimated now."""
        g = self.graph
        stored = (g["params"] if "params" in g.attributes() else {}) or {}
        if (
            self.hub_penalty > 0
            and "load" in g.vs.attributes()
            and stored.get("load_params") == self.load_params()
        ):
            return np.array(g.vs["load"], dtype=np.float64)
        return self.estimate_load() if self.hub_penalty > 0 else np.zeros(self.n)

    def estimate_load(
        self, rounds: int | None = None, sources: int | None = None, seed: int = 0
    ) -> np.ndarray:
        """Share of all chains passing through each image (interior), by simulation.

        Each round runs Dijkstra under the current cost from a seeded sample of sources; a
        vertex's subtree size in a shortest-path tree is the number of chains from that source
        passing through it, so one run counts n - 1 chains. Loads are averaged over rounds
        (method of successive averages), each round costing with the loads so far, so the
        penalty settles instead of oscillating. The cap on the largest step is left out here
        (with power >= 4 it rarely binds).
        """
        n = self.n
        load = np.zeros(n)
        if n < 3 or not len(self.w):
            return load
        rounds = params.LOAD_ROUNDS if rounds is None else rounds
        n_src = params.LOAD_SOURCES if sources is None else sources
        n_src = max(2, min(n, n_src, int(params.LOAD_WORK / rounds / max(len(self.arc_e), 1))))
        rng = np.random.default_rng(seed)
        keep = self.base_arc
        for r in range(rounds):
            arc_cost = self._cost_array(load)[self.arc_e]
            A = self._csr(keep, arc_cost)
            usage = np.zeros(n)
            for src in rng.choice(n, size=n_src, replace=False):
                dist, pred = dijkstra(A, indices=int(src), return_predecessors=True)
                size = _subtree_sizes(pred)
                size[int(src)] = 1.0  # the source is an end of its chains, not inside them
                usage += size - 1.0  # chains from src passing through each vertex
            usage = np.maximum(usage, 0.0)
            usage /= n_src * (n - 1)
            load = (load * r + usage) / (r + 1)
        return load

    def _build_tree(self) -> None:
        """Minimum spanning forest, rooted, with binary-lifting max-edge tables."""
        n = self.n
        self.comp = np.zeros(n, dtype=np.int64)
        parent = np.arange(n)
        upw = np.zeros(n)
        depth = np.zeros(n, dtype=np.int64)
        if n and len(self.w):
            key = np.minimum(self.eu, self.ev) * n + np.maximum(self.eu, self.ev)
            key = np.where(self.long_e, -1, key)  # long-range edges stay out of the tree
            order = np.lexsort((self.w, key))
            order = order[key[order] >= 0]
            first = order[np.concatenate([[True], key[order][1:] != key[order][:-1]])]
            shift = 1e-9 * max(float(self.w.max()), 1e-30)  # scipy drops zero weights
            A = csr_matrix(
                (self.w[first] + shift, (self.eu[first], self.ev[first])), shape=(n, n)
            )
            T = minimum_spanning_tree(A).tocoo()
            tu, tv = T.row.astype(np.int64), T.col.astype(np.int64)
            sym = csr_matrix(
                (np.ones(2 * len(tu)), (np.r_[tu, tv], np.r_[tv, tu])), shape=(n, n)
            )
            _, self.comp = connected_components(sym, directed=False)
            self.tree_edges = (tu, tv, self.arc_w[self._arc_of(tu, tv)])
            seen = np.zeros(n, bool)
            for root in range(n):
                if seen[root]:
                    continue
                order_, pred = breadth_first_order(sym, root, directed=False)
                seen[order_] = True
                kids = order_[1:]
                parent[kids] = pred[kids]
                dl = depth.tolist()
                for v, pv in zip(kids.tolist(), pred[kids].tolist(), strict=True):
                    dl[v] = dl[pv] + 1  # BFS order: the parent's depth is already known
                depth = np.array(dl, dtype=np.int64)
                upw[kids] = self.arc_w[self._arc_of(parent[kids], kids)]  # exact weights
        else:
            self.comp = np.arange(n)
            self.tree_edges = (np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        levels = max(1, int(math.ceil(math.log2(max(int(depth.max(initial=0)), 1) + 1))))
        up = np.empty((levels, n), dtype=np.int64)
        mx = np.empty((levels, n), dtype=np.float64)
        up[0], mx[0] = parent, upw
        for j in range(1, levels):
            up[j] = up[j - 1][up[j - 1]]
            mx[j] = np.maximum(mx[j - 1], mx[j - 1][up[j - 1]])
        self._up, self._mx, self._depth = up, mx, depth

    # ---------------------------------------------------------------- primitives
    def bottleneck(self, s: int, t: int) -> float:
        """Least possible largest step between s and t in the graph (inf if disconnected)."""
        if s == t:
            return 0.0
        if self.comp[s] != self.comp[t]:
            return math.inf
        up, mx, depth = self._up, self._mx, self._depth
        a, b, best = s, t, 0.0
        if depth[a] < depth[b]:
            a, b = b, a
        diff, j = int(depth[a] - depth[b]), 0
        while diff:
            if diff & 1:
                best = max(best, mx[j, a])
                a = up[j, a]
            diff >>= 1
            j += 1
        if a == b:
            return float(best)
        for j in range(up.shape[0] - 1, -1, -1):
            if up[j, a] != up[j, b]:
                best = max(best, mx[j, a], mx[j, b])
                a, b = up[j, a], up[j, b]
        return float(max(best, mx[0, a], mx[0, b]))

    def _allowed_arcs(self, ban_v: np.ndarray | None, ban_e: np.ndarray | None) -> np.ndarray:
        ok = np.ones(len(self.arc_e), bool)
        if ban_v is not None:
            ok &= ~ban_v[self.arc_row] & ~ban_v[self.nbr]
        if ban_e is not None:
            ok &= ~ban_e[self.arc_e]
        return ok

    def _csr(self, keep: np.ndarray, data: np.ndarray) -> csr_matrix:
        counts = np.bincount(self.arc_row[keep], minlength=self.n)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return csr_matrix((data[keep], self.nbr[keep], indptr), shape=(self.n, self.n))

    def _masked_bottleneck(self, s: int, t: int, allowed: np.ndarray) -> float:
        """Bottleneck with some arcs removed: MST of what is left, then its s-t path."""
        shift = 1e-9 * max(float(self.w.max(initial=0.0)), 1e-30)
        T = minimum_spanning_tree(self._csr(allowed, self.arc_w + shift))
        _, pred = breadth_first_order(T, s, directed=False)
        if pred[t] < 0:
            return math.inf
        chain = [t]
        while chain[-1] != s:
            chain.append(int(pred[chain[-1]]))
        c = np.array(chain)
        return float(self.arc_w[self._arc_of(c[1:], c[:-1])].max())

    def _dijkstra_path(self, s: int, t: int, keep: np.ndarray, cost: np.ndarray) -> list[int]:
        A = self._csr(keep, cost)
        dist, pred = dijkstra(A, indices=s, return_predecessors=True)
        if not np.isfinite(dist[t]):
            raise PathError("no chain between these images with the given constraints")
        path = [t]
        while path[-1] != s:
            path.append(int(pred[path[-1]]))
        return path[::-1]

    def step_weight(self, a: int, b: int) -> float:
        """Weight of the lightest edge a-b (KeyError if not adjacent)."""
        j = int(self._arc_of(np.array([a]), np.array([b]))[0])
        if j < 0:
            raise KeyError((a, b))
        return float(self.arc_w[j])

    def _chain(self, vertices: list[int], mode: str, bound: float, optimal: bool = True) -> Chain:
        v = np.asarray(vertices, dtype=np.int64)
        steps = self.arc_w[self._arc_of(v[:-1], v[1:])].tolist() if len(v) > 1 else []
        return Chain(
            vertices=[int(v) for v in vertices],
            steps=steps,
            largest_step=max(steps, default=0.0),
            total=float(sum(steps)),
            mode=mode,
            bound=float(bound),
            optimal=optimal,
        )

    # ---------------------------------------------------------------- modes
    def _shortest(self, s, t, ban_v, ban_e) -> Chain:
        allowed = self._allowed_arcs(ban_v, ban_e)
        try:
            path = self._dijkstra_path(s, t, allowed & self.base_arc, self.arc_w)
        except PathError:  # only when `avoid` cut the kNN graph: the long-range edges may help
            path = self._dijkstra_path(s, t, allowed, self.arc_w)
        return self._chain(path, "shortest", 0.0)

    def tree_path(self, s: int, t: int) -> list[int]:
        """The s-t path in the minimum spanning tree (a minimax path), by parent pointers."""
        if self.comp[s] != self.comp[t]:
            raise PathError("no chain between these images")
        if not hasattr(self, "_parent_list"):
            self._parent_list = self._up[0].tolist()
            self._depth_list = self._depth.tolist()
        parent, depth = self._parent_list, self._depth_list
        left, right = [s], [t]
        a, b = s, t
        while depth[a] > depth[b]:
            a = parent[a]
            left.append(a)
        while depth[b] > depth[a]:
            b = parent[b]
            right.append(b)
        while a != b:
            a, b = parent[a], parent[b]
            left.append(a)
            right.append(b)
        return left + right[-2::-1]

    def _smooth_local(self, s: int, t: int, b: float) -> list[int]:
        """Least-cost chain under the cap within a corridor: the tree path and its neighbours.

        For huge graphs: the work is proportional to the tree path's length times the degree,
        not to the graph. Chains may leave the tree path one image at a time.
        """
        cap = b * (1.0 + self.slack)
        P = np.array(self.tree_path(s, t), dtype=np.int64)
        for _ in range(params.LOCAL_ROUNDS):
            P = self._corridor_chain(P, s, t, cap)
        return P.tolist()

    def _arcs_at(self, P: np.ndarray, cap: float) -> np.ndarray:
        """Arcs (<= cap, no long-range) leaving the vertices P, grouped by P's order."""
        lo, hi = self.indptr[P], self.indptr[P + 1]
        sizes = hi - lo
        arcs = np.arange(int(sizes.sum())) + np.repeat(lo - np.cumsum(sizes) + sizes, sizes)
        return arcs[(self.arc_w[arcs] <= cap) & self.base_arc[arcs]]

    def _corridor_chain(self, P: np.ndarray, s: int, t: int, cap: float) -> np.ndarray:
        """Least-cost chain (edges <= cap) among P, its neighbours and the edges at P.

        Linear in the corridor's arcs (no sorting): vertices are marked in an n-sized mask and
        renumbered through a reusable n-sized map; the CSR is built straight from the arcs,
        which arrive grouped by their (sorted) tail, and searched as an undirected graph.
        """
        n = self.n
        mark = np.zeros(n, bool)
        mark[P] = True
        if params.LOCAL_WIDTH > 1:
            mark[self.nbr[self._arcs_at(P, cap)]] = True
        P = np.flatnonzero(mark)  # sorted, so the arcs below come grouped by tail
        arcs = self._arcs_at(P, cap)
        mark[self.nbr[arcs]] = True
        nodes = np.flatnonzero(mark)
        if not hasattr(self, "_local_id"):
            self._local_id = np.zeros(n, dtype=np.int32)
        local = self._local_id
        local[nodes] = np.arange(len(nodes), dtype=np.int32)
        tails = local[self.arc_row[arcs]]  # non-decreasing: P is sorted, arcs grouped by it
        indptr = np.concatenate([[0], np.cumsum(np.bincount(tails, minlength=len(nodes)))])
        A = csr_matrix(
            (self.arc_cost[arcs], local[self.nbr[arcs]], indptr), shape=(len(nodes), len(nodes))
        )
        src, dst = int(local[s]), int(local[t])
        _, pred = dijkstra(A, directed=False, indices=src, return_predecessors=True)
        path = [dst]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        return nodes[np.array(path[::-1])]

    def _smooth(self, s, t, ban_v, ban_e) -> Chain:
        if ban_v is None and ban_e is None:
            allowed = self.base_arc
            b = self.bottleneck(s, t)
            if self.n > params.LOCAL_SEARCH_ABOVE and math.isfinite(b):
                return self._chain(self._smooth_local(s, t, b), "smooth", b)
        else:
            allowed = self._allowed_arcs(ban_v, ban_e) & self.base_arc
            b = self._masked_bottleneck(s, t, allowed)
            if not math.isfinite(b):  # `avoid` cut the kNN graph: allow long-range edges
                allowed = self._allowed_arcs(ban_v, ban_e)
                b = self._masked_bottleneck(s, t, allowed)
        if not math.isfinite(b):
            raise PathError("no chain between these images with the given constraints")
        keep = (self.arc_w <= b * (1.0 + self.slack)) & allowed
        path = self._dijkstra_path(s, t, keep, self.arc_cost)
        return self._chain(path, "smooth", b)

    def walk_bounds(self, s: int, hops: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """``B[h][v]``: least largest step over walks of exactly h edges from s to v."""
        n = self.n
        B = np.full((hops + 1, n), np.inf)
        B[0, s] = 0.0
        aw = self.arc_w if allowed is None else np.where(allowed, self.arc_w, np.inf)
        nonempty = self.indptr[:-1] < self.indptr[1:]
        starts = self.indptr[:-1][nonempty]
        for h in range(1, hops + 1):
            cand = np.maximum(B[h - 1][self.nbr], aw)
            if len(starts):
                B[h][nonempty] = np.minimum.reduceat(cand, starts)
        return B

    def walk_costs(self, s: int, hops: int, tau: float, allowed: np.ndarray | None) -> np.ndarray:
        """``C[h][v]``: least summed cost over walks of exactly h edges <= tau from s to v.

        ``C[h][v]`` is finite exactly when ``walk_bounds(...)[h][v] <= tau``.
        """
        ok = self.arc_w <= tau
        if allowed is not None:
            ok &= allowed
        ac = np.where(ok, self.arc_cost, np.inf)
        C = np.full((hops + 1, self.n), np.inf)
        C[0, s] = 0.0
        nonempty = self.indptr[:-1] < self.indptr[1:]
        starts = self.indptr[:-1][nonempty]
        for h in range(1, hops + 1):
            if len(starts):
                C[h][nonempty] = np.minimum.reduceat(C[h - 1][self.nbr] + ac, starts)
        return C

    def _simple_chain(self, s, t, hops, tau, allowed) -> list[int] | None:
        """A simple chain of exactly ``hops`` edges, all <= tau, via DFS from t (or None).

        ``C = walk_costs(...)`` is an exact oracle for "s reaches u in exactly h steps <= tau";
        candidates are tried cheapest completion first, so the search follows the least-cost
        walk and departs from it only where the walk would repeat an image. Raises
        :class:`_Budget` when the search exceeds the node budget.
        """
        C = self.walk_costs(s, hops, tau, allowed)
        if not np.isfinite(C[hops][t]):
            return None
        on_path = np.zeros(self.n, bool)

        def candidates(v: int, rem: int) -> np.ndarray:
            lo, hi = self.indptr[v], self.indptr[v + 1]
            u = self.nbr[lo:hi]
            via = C[rem - 1][u] + self.arc_cost[lo:hi]
            ok = (self.arc_w[lo:hi] <= tau) & np.isfinite(via) & ~on_path[u]
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
            if expanded > self.search_budget:
                raise _Budget()
            stack.append(candidates(u, rem))
            pos.append(0)
        return None

    def _steps(self, s, t, x, ban_v, ban_e) -> Chain:
        hops = x + 1
        allowed = None if ban_v is None and ban_e is None else self._allowed_arcs(ban_v, ban_e)
        B = self.walk_bounds(s, hops, allowed)
        lb = float(B[hops][t])
        if not math.isfinite(lb):
            keep = np.ones(len(self.arc_e), bool) if allowed is None else allowed
            d = dijkstra(self._csr(keep, np.ones(len(self.arc_e))), indices=s)[t]
            if not np.isfinite(d):
                raise PathError("no chain between these images with the given constraints")
            if d > hops:
                raise PathError(
                    f"no chain with exactly {x} intermediate images: these two need at least "
                    f"{int(d) - 1} in this graph"
                )
            raise PathError(f"no chain with exactly {x} intermediate images in this graph")

        def attempt(tau: float) -> tuple[list[int] | None, bool]:
            try:
                return self._simple_chain(s, t, hops, tau, allowed), True
            except _Budget:
                return None, False

        path, proven_below = attempt(lb)
        if path is not None:
            return self._chain(path, "steps", lb, optimal=True)
        pool = self.arc_w if allowed is None else self.arc_w[allowed]
        taus = np.unique(pool[pool > lb])
        best = None
        lo, hi = -1, len(taus)  # taus[lo] infeasible (lo=-1: lb), taus[hi] feasible
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found, proven = attempt(float(taus[mid]))
            if found is not None:
                best, hi = found, mid
            else:
                lo, proven_below = mid, proven
        if best is None:
            raise PathError(
                f"no chain with exactly {x} intermediate images (without repeating an image) "
                "in this graph"
            )
        return self._chain(best, "steps", lb, optimal=proven_below and lo == hi - 1)

    # ---------------------------------------------------------------- public
    def find(
        self,
        source: int,
        target: int,
        mode: str = "smooth",
        steps: int | None = None,
        alternatives: int = 1,
        avoid: Iterable[int] = (),
    ) -> list[Chain]:
        """Up to ``alternatives`` distinct chains from source to target, best first."""
        s, t = self._vertex(source, "source"), self._vertex(target, "target")
        if mode not in MODES:
            raise PathError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if steps is not None and mode == "smooth":
            mode = "steps"  # asking for a number of intermediate images implies steps mode
        if mode == "steps":
            if steps is None or int(steps) != steps or steps < 0:
                raise PathError("mode 'steps' needs steps = the number of intermediate images")
            if steps > params.MAX_STEPS:
                raise PathError(f"steps must be at most {params.MAX_STEPS}")
        elif steps is not None:
            raise PathError(f"steps is only used with mode 'steps', not {mode!r}")
        if int(alternatives) != alternatives or alternatives < 1:
            raise PathError("alternatives must be a positive integer")
        avoid_set = {self._vertex(a, "avoid") for a in avoid}
        if s in avoid_set or t in avoid_set:
            raise PathError("the source and target cannot be avoided")
        if s == t:
            if mode == "steps" and steps:
                raise PathError("source and target are the same image")
            return [Chain([s], [], 0.0, 0.0, mode=mode)]

        base_ban = np.zeros(self.n, bool)
        base_ban[list(avoid_set)] = True

        def search(ban_v: np.ndarray, ban_e: np.ndarray | None) -> Chain:
            bv = ban_v if ban_v.any() else None
            if mode == "shortest":
                return self._shortest(s, t, bv, ban_e)
            if mode == "smooth":
                return self._smooth(s, t, bv, ban_e)
            return self._steps(s, t, int(steps), bv, ban_e)

        chains = [search(base_ban, None)]
        while len(chains) < alternatives:
            nxt = self._next_alternative(chains, base_ban, search)
            if nxt is None:
                break
            chains.append(nxt)
        return chains

    def _next_alternative(self, chains: list[Chain], base_ban: np.ndarray, search) -> Chain | None:
        """A chain different from all in ``chains`` (a new route if there is one)."""
        seen = {tuple(c.vertices) for c in chains}
        ban_e = None
        direct = [c for c in chains if len(c.vertices) == 2]
        if direct:  # the direct step was used: forbid that edge
            a, b = direct[0].vertices
            ban_e = np.zeros(len(self.w), bool)
            lo, hi = self.indptr[a], self.indptr[a + 1]
            ban_e[self.arc_e[lo:hi][self.nbr[lo:hi] == b]] = True
        interiors = {v for c in chains for v in c.vertices[1:-1]}
        cut = self._cut_vertices()
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

    def _cut_vertices(self) -> set[int]:
        """Articulation points of the kNN graph (cached): routes may have to share them."""
        if not hasattr(self, "_cut"):
            base = self.graph.subgraph_edges(
                np.flatnonzero(~self.long_e).tolist(), delete_vertices=False
            )
            self._cut = set(base.articulation_points())
        return self._cut

    def _vertex(self, v, what: str) -> int:
        try:
            iv = int(v)
        except (TypeError, ValueError):
            raise PathError(f"{what} must be a vertex id, got {v!r}") from None
        if iv != v or not 0 <= iv < self.n:
            raise PathError(f"{what} {v!r} is not a vertex of this graph (0..{self.n - 1})")
        return iv
