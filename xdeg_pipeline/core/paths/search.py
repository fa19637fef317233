"""What every mode gets: the prepared graph (:class:`SearchSpace`) and a request (:class:`Query`).

A mode is a function ``search(space, query) -> Chain`` (see :data:`Mode`) that raises
:class:`~.chain.PathError` when no chain satisfies the query; :mod:`.modes` lists them by name.
A mode honours ``query.ban_v`` / ``query.ban_e`` (vertices and edges the request removes:
``avoid``, earlier alternatives) and reads the shared structure from the space; it keeps no
state between queries (scratch buffers excepted), so the facade can call it repeatedly.

Every mode avoids near-duplicate steps (an edge shorter than the collection's near-duplicate
distance, :mod:`xdeg_pipeline.core.graph.near_duplicates`) unless the query exempts them
(:meth:`SearchSpace.exempt`: the source and target are in one near-duplicate group) or no
chain exists without one: ``smooth`` and ``shortest`` add a large penalty per near-duplicate
step (:meth:`SearchSpace.arc_costs`), ``steps`` bans them first and only then allows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from xdeg_pipeline.core.graph.distances import pair_distances
from xdeg_pipeline.core.graph.near_duplicates import StepScale
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import Chain, PathError, make_chain
from xdeg_pipeline.core.paths.skip import skip_short_steps
from xdeg_pipeline.core.paths.tree import BottleneckTree

Measured = Mapping[tuple[int, int], tuple[float, float]]  # (u, v) -> (length, cost) of a step


@dataclass(frozen=True)
class Query:
    """One search: from ``s`` to ``t``, without the banned vertices (n-mask) and edges (m-mask)."""

    s: int
    t: int
    steps: int | None = None  # intermediate images (``steps`` mode)
    ban_v: np.ndarray | None = None
    ban_e: np.ndarray | None = None

    @property
    def constrained(self) -> bool:
        """True when the query removes anything from the graph."""
        return self.ban_v is not None or self.ban_e is not None

    def allowed(self, arcs: Arcs) -> np.ndarray:
        """Arcs this query may use (all kinds, long-range included)."""
        return arcs.allowed(self.ban_v, self.ban_e)


@dataclass
class SearchSpace:
    """The graph prepared once for all queries, plus the settings the modes read."""

    arcs: Arcs
    tree: BottleneckTree
    arc_cost: np.ndarray  # per arc: the step cost (:class:`~.costs.StepCost`) under the hub load
    slack: float  # smooth: largest step allowed = max(bottleneck, floor) * (1 + slack)
    search_budget: int  # steps: depth-first expansions per threshold
    scale: StepScale = StepScale(0.0, 0.0)  # natural step, near-duplicate distance
    floor: float = 0.0  # smooth: the cap never goes below floor * natural step
    steps_slack: float = 0.0  # steps: largest step allowed = least possible * (1 + steps_slack)
    near_dup_penalty: float = 0.0  # smooth: added to arc_cost on a near-duplicate step
    groups: np.ndarray | None = None  # per vertex: near-duplicate group, -1 for none
    recolour_groups: np.ndarray | None = None  # per vertex: recolour group, -1 (recolours.py)
    step_floor: float = 0.0  # a step under this share of the chain's cap costs as one that long
    arc_step: np.ndarray | None = None  # per arc: the hub-free step cost (arc_cost / arc_hub)
    arc_hub: np.ndarray | None = None  # per arc: the hub factor 1 + hub_penalty * load
    short_step: float = 0.0  # a step shorter than this (a distance) is a series step ...
    short_cost: float = 0.0  # ... and costs as one of this share of the chain's cap
    power: float = 1.0  # of the step cost (for the floor's cost)
    unit: float = 1.0  # the step cost's unit (median edge weight)
    fewest_steps: bool = False  # smooth: the cheapest of the chains with the fewest steps
    long_step: float = 0.0  # smooth, counting steps: a step above cap basis x (1 + this) ...
    long_price: float = 0.0  # ... counts as 1 + this many steps (0: off; halves)
    vectors: np.ndarray | None = None  # per vertex: its vector in the graph's space (or None)
    metric: str = "l2"  # ... and that space's distance (an edge's weight)
    skip_short: float = 0.0  # smooth: skip a step under this share of the largest (:mod:`.skip`)
    spare_steps: int = 0  # smooth, counting steps: up to this many more for a smaller largest
    measure: Callable[[np.ndarray, np.ndarray], Measured] | None = None  # steps, edges or not
    _vertex_map: np.ndarray | None = field(default=None, repr=False)
    _near_dup_arc: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.arcs.n

    @property
    def near_dup_arc(self) -> np.ndarray:
        """Per arc: True on a near-duplicate step (shorter than the near-duplicate distance)
        or a recoloured one (:meth:`~.arcs.Arcs.avoided`): both are avoided alike."""
        if self._near_dup_arc is None:
            self._near_dup_arc = self.arcs.avoided(self.scale.near_dup)
        return self._near_dup_arc

    def vertex_map(self) -> np.ndarray:
        """A reusable n-sized int32 scratch array (vertex -> local id in a subgraph search)."""
        if self._vertex_map is None:
            self._vertex_map = np.zeros(self.n, dtype=np.int32)
        return self._vertex_map

    def exempt(self, s: int, t: int) -> bool:
        """True when s and t belong to one near-duplicate group or one recolour group (or there
        are no near-duplicates): a chain between them may use the steps otherwise avoided,
        since leaving the group to avoid them would be a detour through unrelated images."""
        if self.scale.near_dup <= 0 or self.groups is None:
            return True
        rg = self.recolour_groups
        if rg is not None and rg[s] >= 0 and rg[s] == rg[t]:  # two colourings of one drawing
            return True
        return bool(self.groups[s] >= 0 and self.groups[s] == self.groups[t])

    def same_group(self, s: int, t: int) -> bool:
        """True when s and t are two near-duplicates of one group (a chain among them was
        asked for; :meth:`exempt` is also True when there are no groups at all)."""
        return self.scale.near_dup > 0 and self.groups is not None and self.exempt(s, t)

    def fewest_first(self, q: Query) -> bool:
        """smooth counts steps first for this query (:mod:`.fewest`): on, and not a chain
        between two near-duplicates of one group (that one stays the least-cost chain, which
        keeps it among them)."""
        return self.fewest_steps and not self.same_group(q.s, q.t)

    def counted_arcs(self) -> np.ndarray:
        """Per arc: True where smooth may count a step when it counts steps first: no
        near-duplicate step where near-duplicates are avoided (it never takes one to save a
        step)."""
        if self.near_dup_penalty > 0:
            return ~self.near_dup_arc
        return np.ones(len(self.arcs.arc_w), bool)

    def long_steps(self, lengths: np.ndarray, cap: float) -> np.ndarray:
        """Which of these step lengths are *long*: more than ``long_step`` above the cap's
        basis (the least possible largest step, or the floor)."""
        return np.asarray(lengths) > cap / (1.0 + self.slack) * (1.0 + self.long_step)

    @property
    def long_extra(self) -> float:
        """What a long step counts for above one step: ``long_price`` rounded to a half (so
        that :func:`.fewest.fewest_steps_search` tells step counts apart)."""
        return round(2 * self.long_price) / 2

    def step_units(self, cap: float, idx: np.ndarray | None = None) -> np.ndarray | None:
        """Per arc (of ``idx``, all if None): how many steps smooth counts it for when it
        counts steps first (None: one each). A long step (:meth:`long_steps`) counts
        :attr:`long_extra` more, so a chain takes one more step rather than one near the
        cap."""
        if self.long_extra <= 0:
            return None
        w = self.arcs.arc_w if idx is None else self.arcs.arc_w[idx]
        return 1.0 + self.long_extra * self.long_steps(w, cap)

    def spare(self, units: np.ndarray | None) -> int:
        """Steps smooth may add to the fewest for a smaller largest step (:mod:`.spare`):
        ``spare_steps``, none where steps are counted in units (a long step's price)."""
        return self.spare_steps if units is None else 0

    def largest_step(self, vertices: list[int]) -> float:
        """The largest step of a chain of adjacent vertices (an edge's weight each)."""
        return max(self.arcs.steps_of(vertices), default=0.0)

    def counted_steps(self, lengths: list[float], cap: float) -> float:
        """A chain's steps as smooth counts them (:meth:`step_units`)."""
        if self.long_extra <= 0:
            return float(len(lengths))
        long = int(self.long_steps(np.asarray(lengths, dtype=np.float64), cap).sum())
        return len(lengths) + self.long_extra * long

    def arc_costs(self, q: Query, idx: np.ndarray | None = None, cap: float = 0.0
                  ) -> np.ndarray:
        """Per-arc cost for this query (of the arcs ``idx``, all if None): the step cost plus the
        near-duplicate penalty, unless the query is exempt. With ``step_floor`` and the chain's
        ``cap`` (its largest step allowed), a step shorter than ``step_floor * cap`` costs as
        much as one that long, and so does a series step (:meth:`floored`), except between two
        near-duplicates of one group: that chain stays among them."""
        exempt = self.exempt(q.s, q.t)
        cost = self.floored(cap, idx, series=not (exempt and self.scale.near_dup > 0))
        if self.near_dup_penalty <= 0 or exempt:
            return cost
        nd = self.near_dup_arc if idx is None else self.near_dup_arc[idx]
        return cost + self.near_dup_penalty * nd

    def floored(self, cap: float, idx: np.ndarray | None = None, series: bool = True
                ) -> np.ndarray:
        """The step cost sized against the chain's ``cap`` (its largest step allowed; 0: the
        plain cost): a step shorter than ``step_floor * cap`` costs as one that long, and a
        *series step* (shorter than ``short_step``) as one of ``short_cost * cap``. Either way a
        short step costs about what a step near the cap does, so a chain does not cross a
        series in many short steps where a few steps under its cap reach as far (issue 21).
        ``series=False``: series steps at their plain cost."""
        cost = self.arc_cost if idx is None else self.arc_cost[idx]
        if cap <= 0 or self.arc_step is None or self.arc_hub is None:
            return cost
        floor = self.step_floor > 0
        short = series and self.short_step > 0 and self.short_cost > 0
        if not (floor or short):
            return cost
        step = self.arc_step if idx is None else self.arc_step[idx]
        hub = self.arc_hub if idx is None else self.arc_hub[idx]
        if floor:
            step = np.maximum(step, (self.step_floor * cap / self.unit) ** self.power)
        if short:
            w = self.arcs.arc_w if idx is None else self.arcs.arc_w[idx]
            least = (self.short_cost * cap / self.unit) ** self.power
            step = np.where(w < self.short_step, np.maximum(step, least), step)
        return step * hub

    def cap(self, b: float) -> float:
        """smooth: the largest step allowed when the least possible one is ``b``."""
        return max(b, self.floor * self.scale.natural) * (1.0 + self.slack)

    def pair_lengths(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Distances between vertices ``u[i]`` and ``v[i]``, edges or not, measured as an
        edge's weight is (PathError when the space holds no vectors)."""
        if self.vectors is None:
            raise PathError("a step that is not an edge cannot be measured: no vectors")
        u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        return pair_distances(self.vectors, u, v, self.metric).astype(np.float64)

    def step_lengths(self, vertices: list[int]) -> list[float]:
        """A chain's step lengths: an edge's weight, else (a skipped image, :mod:`.skip`)
        the distance measured by :meth:`pair_lengths`."""
        v = np.asarray(vertices, dtype=np.int64)
        if len(v) < 2:
            return []
        j = self.arcs.arc_of(v[:-1], v[1:])
        w = self.arcs.arc_w[j].astype(np.float64)
        gone = np.flatnonzero(j < 0)
        if len(gone):
            w[gone] = self.pair_lengths(v[gone], v[gone + 1])
        return w.tolist()

    def smooth_chain(self, vertices: list[int], bound: float) -> Chain:
        """smooth's :class:`Chain` of these adjacent vertices, its short series steps skipped
        (:mod:`.skip`, which measures the steps it makes; as they are when that is off or the
        space holds no vectors)."""
        lengths = self.arcs.steps_of(vertices)
        if self.skip_short > 0 and self.vectors is not None:
            vertices, lengths = skip_short_steps(vertices, lengths, self.pair_lengths,
                                                 self.skip_short, self.scale.near_dup)
        return make_chain(vertices, lengths, "smooth", bound)

    def chain(self, vertices: list[int], mode: str, bound: float, optimal: bool = True) -> Chain:
        """The :class:`Chain` of these vertices, its steps measured (:meth:`step_lengths`)."""
        return make_chain(vertices, self.step_lengths(vertices), mode, bound, optimal)


Mode = Callable[[SearchSpace, Query], Chain]
