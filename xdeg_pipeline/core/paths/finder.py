"""The path finder: one object per graph that validates requests and runs the modes.

It prepares the graph once (arcs, bottleneck tree, natural step and near-duplicate distance,
hub load, step costs: a :class:`~.search.SearchSpace`), turns a request into
:class:`~.search.Query` objects (``avoid`` and earlier alternatives become banned vertices and
edges) and hands them to the mode's ``search`` function from :data:`~.modes.SEARCHES`, once
per leg when the request names waypoints (:mod:`.waypoints`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.lean import LeanGraph, graph_metric
from xdeg_pipeline.core.graph.near_duplicates import (
    NearDuplicates,
    near_dup_distance,
    near_duplicates_of_edges,
    with_stored_natural,
)
from xdeg_pipeline.core.graph.recolours import recolour_groups
from xdeg_pipeline.core.graph.sampling import graph_keys
from xdeg_pipeline.core.paths import load as hub_load
from xdeg_pipeline.core.paths import steps as steps_mode
from xdeg_pipeline.core.paths.alternatives import next_alternative
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.costs import StepCost
from xdeg_pipeline.core.paths.modes import MODES, SEARCHES
from xdeg_pipeline.core.paths.search import Query, SearchSpace
from xdeg_pipeline.core.paths.tree import BottleneckTree
from xdeg_pipeline.core.paths.waypoints import through


def _check_request(mode: str, steps: int | None, alternatives: int) -> str:
    """The mode to run (``steps`` given alone implies mode ``steps``); PathError if malformed."""
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
    return mode


def _or(value, default) -> float:
    return float(default if value is None else value)


def _vectors(vectors: np.ndarray | None, n: int) -> np.ndarray | None:
    """The vertices' vectors in the graph's space, checked: one row per vertex."""
    if vectors is None:
        return None
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != n:
        raise ValueError(f"vectors must hold one row per vertex ({n}), got {vectors.shape}")
    return vectors


def near_duplicates_of(arcs: Arcs, near_dup: float) -> NearDuplicates:
    """Natural step and near-duplicate groups of the kNN arcs
    (see :mod:`xdeg_pipeline.core.graph.near_duplicates`)."""
    base = ~arcs.long_e
    return near_duplicates_of_edges(arcs.n, arcs.eu[base], arcs.ev[base], arcs.w[base], near_dup)


class PathFinder:
    """Answers chain queries on one graph; precomputes the MST tables and adjacency arrays.

    Settings (None: the default of :mod:`params`): ``slack``, ``floor`` (smooth's cap, see
    :meth:`~.search.SearchSpace.cap`); ``power``, ``hub_penalty``, ``step_constant``,
    ``min_step`` (the step cost, :class:`~.costs.StepCost`); ``near_dup_fraction`` (the
    near-duplicate distance as a share of the graph's random-pair median; 0: near-duplicate
    steps are not avoided) or ``near_dup`` (the distance itself); ``steps_slack`` and
    ``search_budget`` (``steps``); ``step_floor`` (a step under this share of the chain's
    cap costs as one that long), ``short_step`` and ``short_cost`` (a step shorter than
    ``short_step`` natural steps costs as one of ``short_cost`` times the chain's cap; both
    :meth:`~.search.SearchSpace.floored`); ``fewest_steps`` (smooth: the cheapest chain
    among those with the fewest steps under the cap, :mod:`.fewest`); ``spare_steps`` (smooth:
    up to this many steps more for a smaller largest step, :mod:`.spare`); ``skip_short``
    (smooth: skip a step under this share of the chain's largest, :mod:`.skip`). ``graph`` is an
    ``igraph.Graph`` or the :class:`~xdeg_pipeline.core.graph.lean.LeanGraph` a query server
    loads (no igraph object until alternatives need its articulation points); ``arcs``: its
    :class:`~.arcs.Arcs` when the caller has them already.
    """

    def __init__(
        self,
        graph: ig.Graph | LeanGraph,
        slack: float | None = None,
        power: float | None = None,
        hub_penalty: float | None = None,
        search_budget: int | None = None,
        *,
        step_constant: float | None = None,
        min_step: float | None = None,
        floor: float | None = None,
        near_dup_fraction: float | None = None,
        near_dup: float | None = None,
        steps_slack: float | None = None,
        step_floor: float | None = None,
        short_step: float | None = None,
        short_cost: float | None = None,
        fewest_steps: bool | None = None,
        long_step: float | None = None,
        long_price: float | None = None,
        arcs: Arcs | None = None,
        vectors: np.ndarray | None = None,
        skip_short: float | None = None,
        spare_steps: int | None = None,
    ) -> None:
        self.graph = graph
        self.n = graph.vcount()
        self.step_cost = StepCost.of(power, hub_penalty, step_constant, min_step)
        self.power, self.hub_penalty = self.step_cost.power, self.step_cost.hub_penalty
        if arcs is None:
            arcs = Arcs.of_lean(graph) if isinstance(graph, LeanGraph) else Arcs(graph)
        self.arcs = arcs
        if self.arcs.n != self.n:
            raise ValueError(f"the arcs have {self.arcs.n} vertices, the graph {self.n}")
        tree = BottleneckTree(self.arcs)
        nd = (near_dup_distance(graph, near_dup_fraction) if near_dup is None
              else max(0.0, float(near_dup)))
        self.near_duplicates = near_duplicates_of(self.arcs, nd)
        if near_dup is None and near_dup_fraction is None:  # the kept scale (issue 21)
            self.near_duplicates = with_stored_natural(graph, self.near_duplicates)
        self.scale = self.near_duplicates.scale
        self.load = hub_load.graph_load(graph, self.arcs, self.step_cost, self.scale)
        self.cost = self.step_cost.edge_costs(self.arcs, self.load, self.scale)
        unit = self.unit = StepCost.unit(self.arcs)
        step = self.step_cost.step_values(self.arcs.w, self.scale, unit)
        penalty = (self.step_cost.near_dup_penalty(self.scale, unit)
                   if self.scale.near_dup > 0 else 0.0)
        self.space = SearchSpace(
            arcs=self.arcs,
            tree=tree,
            arc_cost=self.cost[self.arcs.arc_e],
            slack=_or(slack, params.SMOOTH_SLACK),
            search_budget=params.STEPS_SEARCH_BUDGET if search_budget is None else search_budget,
            scale=self.scale,
            floor=_or(floor, params.NATURAL_FLOOR),
            steps_slack=_or(steps_slack, params.STEPS_SLACK),
            near_dup_penalty=penalty,
            groups=self.near_duplicates.labels,
            recolour_groups=(recolour_groups(self.n, self.arcs.eu, self.arcs.ev,
                                             self.arcs.recolour_e)
                             if self.arcs.recolour_e.any() else None),
            step_floor=_or(step_floor, params.STEP_FLOOR),
            short_step=_or(short_step, params.SHORT_STEP) * self.scale.natural,
            short_cost=_or(short_cost, params.SHORT_STEP_COST),
            arc_step=step[self.arcs.arc_e],
            arc_hub=(self.cost / np.maximum(step, 1e-300))[self.arcs.arc_e],
            power=self.step_cost.power,
            unit=unit,
            fewest_steps=bool(params.SMOOTH_FEWEST_STEPS if fewest_steps is None
                              else fewest_steps),
            long_step=_or(long_step, params.SMOOTH_LONG_STEP),
            long_price=_or(long_price, params.SMOOTH_LONG_PRICE),
            vectors=_vectors(vectors, self.n),
            metric=graph_metric(graph),
            skip_short=_or(skip_short, params.SMOOTH_SKIP_SHORT),
            spare_steps=int(params.SMOOTH_SPARE_STEPS if spare_steps is None else spare_steps),
        )
        if self.space.vectors is not None:
            self.space.measure = self.measure
        self._cut: set[int] | None = None

    # ------------------------------------------------------------------ settings of the modes
    @property
    def slack(self) -> float:
        """smooth: the largest step may exceed the bottleneck by this fraction."""
        return self.space.slack

    @slack.setter
    def slack(self, value: float) -> None:
        self.space.slack = float(value)

    @property
    def search_budget(self) -> int:
        """steps: depth-first expansions per threshold before it counts as "not found"."""
        return self.space.search_budget

    @search_budget.setter
    def search_budget(self, value: int) -> None:
        self.space.search_budget = value

    # ------------------------------------------------------------------ graph facts
    def load_params(self) -> dict:
        """The settings a stored hub load was estimated with (must match to be reused)."""
        return self.step_cost.load_params(self.scale.near_dup)

    def estimate_load(
        self, rounds: int | None = None, sources: int | None = None, seed: int = 0
    ) -> np.ndarray:
        """Share of all chains passing through each image (see :func:`.load.estimate_load`)."""
        return hub_load.estimate_load(self.arcs, self.step_cost, rounds, sources, seed,
                                      scale=self.scale, keys=graph_keys(self.graph))

    def bottleneck(self, s: int, t: int) -> float:
        """Least possible largest step between s and t in the graph (inf if disconnected)."""
        return self.space.tree.bottleneck(s, t)

    def tree_path(self, s: int, t: int) -> list[int]:
        """The s-t path in the minimum spanning tree (a minimax path)."""
        return self.space.tree.path(s, t)

    def step_weight(self, a: int, b: int) -> float:
        """Weight of the lightest edge a-b (KeyError if not adjacent)."""
        return self.arcs.step_weight(a, b)

    def measure(self, u: np.ndarray, v: np.ndarray) -> dict[tuple[int, int], tuple[float, float]]:
        """Steps ``u[i]`` -> ``v[i]``, edges or not, measured by the vertices' vectors: what
        :meth:`measured` says of them (PathError when the finder has no vectors)."""
        return self.measured(u, v, self.space.pair_lengths(u, v))

    def measured(self, u: np.ndarray, v: np.ndarray, w: np.ndarray
                 ) -> dict[tuple[int, int], tuple[float, float]]:
        """Steps ``u[i]`` -> ``v[i]`` of length ``w[i]``, edges or not, with what each costs
        (an edge's cost for the same length and ends): ``{(u, v): (length, cost)}``, the
        ``measured`` that :func:`.pinned.check_pinned` takes."""
        u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        w = np.asarray(w, dtype=np.float64)
        cost = self.step_cost.pair_costs(w, self.load[u], self.load[v], self.scale, self.unit)
        return {(int(a), int(b)): (float(x), float(c))
                for a, b, x, c in zip(u, v, w, cost, strict=True)}

    def walk_bounds(self, s: int, hops: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """``B[h][v]``: least largest step over walks of exactly h edges from s to v."""
        return steps_mode.walk_bounds(self.arcs, s, hops, allowed)

    def walk_costs(self, s: int, hops: int, tau: float, allowed: np.ndarray | None) -> np.ndarray:
        """``C[h][v]``: least summed cost over walks of exactly h edges <= tau from s to v."""
        return steps_mode.walk_costs(self.space, s, hops, tau, allowed)

    # ------------------------------------------------------------------ queries
    def find(
        self,
        source: int,
        target: int,
        mode: str = "smooth",
        steps: int | None = None,
        alternatives: int = 1,
        avoid: Iterable[int] = (),
        via: Iterable[int] = (),
    ) -> list[Chain]:
        """Up to ``alternatives`` distinct chains from source to target, best first.

        ``via``: images the chain passes in this order (each leg in ``mode``; with ``steps``
        the waypoints count among the intermediate images and the rest are spread over the
        legs; no image is repeated).
        """
        s, t = self._vertex(source, "source"), self._vertex(target, "target")
        mode = _check_request(mode, steps, alternatives)
        avoid_set = {self._vertex(a, "avoid") for a in avoid}
        stops = [s, *(self._vertex(v, "via") for v in via), t]
        if s in avoid_set or t in avoid_set:
            raise PathError("the source and target cannot be avoided")
        if avoid_set & set(stops):
            raise PathError("a waypoint cannot be avoided")
        if mode == "steps" and len(stops) > 2 and int(steps) < len(stops) - 2:
            raise PathError(f"steps = {steps} is fewer than the {len(stops) - 2} waypoints")
        if s == t and len(stops) == 2:
            if mode == "steps" and steps:
                raise PathError("source and target are the same image")
            return [Chain([s], [], 0.0, 0.0, mode=mode)]
        base_ban = np.zeros(self.n, bool)
        base_ban[list(avoid_set)] = True
        run = SEARCHES[mode]
        x = int(steps) if mode == "steps" else None

        def search(ban_v: np.ndarray, ban_e: np.ndarray | None) -> Chain:
            if len(stops) > 2:
                ban_v = ban_v.copy()
                ban_v[stops] = False  # earlier alternatives' interiors hold the waypoints
                return through(self.space, lambda q: run(self.space, q), stops, x,
                               ban_v if ban_v.any() else None, ban_e, mode)
            q = Query(s, t, x, ban_v if ban_v.any() else None, ban_e)
            return run(self.space, q)

        chains = [search(base_ban, None)]
        while len(chains) < alternatives:
            nxt = next_alternative(self.arcs, chains, base_ban, search, self._cut_vertices())
            if nxt is None:
                break
            chains.append(nxt)
        return chains

    def _cut_vertices(self) -> set[int]:
        """Articulation points of the kNN graph (cached): routes may have to share them. The
        graph stage stores them; a graph pickled before it did is asked once."""
        if self._cut is None:
            graph = self.graph
            if "cut_vertices" in graph.attributes():
                self._cut = {int(v) for v in graph["cut_vertices"]}
            else:
                from xdeg_pipeline.core.graph.build import cut_vertices

                igraph = graph.igraph() if isinstance(graph, LeanGraph) else graph
                self._cut = set(cut_vertices(igraph, self.arcs.long_e))
        return self._cut

    def _vertex(self, v, what: str) -> int:
        try:
            iv = int(v)
        except (TypeError, ValueError):
            raise PathError(f"{what} must be a vertex id, got {v!r}") from None
        if iv != v or not 0 <= iv < self.n:
            raise PathError(f"{what} {v!r} is not a vertex of this graph (0..{self.n - 1})")
        return iv
