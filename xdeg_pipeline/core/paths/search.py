"""What every mode gets: the prepared graph (:class:`SearchSpace`) and a request (:class:`Query`).

A mode is a function ``search(space, query) -> Chain`` (see :data:`Mode`) that raises
:class:`~.chain.PathError` when no chain satisfies the query; :mod:`.modes` lists them by name.
A mode honours ``query.ban_v`` / ``query.ban_e`` (vertices and edges the request removes:
``avoid``, earlier alternatives) and reads the shared structure from the space; it keeps no
state between queries (scratch buffers excepted), so the facade can call it repeatedly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.chain import Chain, make_chain
from xdeg_pipeline.core.paths.tree import BottleneckTree


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
    slack: float  # smooth: largest step allowed = bottleneck * (1 + slack)
    search_budget: int  # steps: depth-first expansions per threshold
    _vertex_map: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.arcs.n

    def vertex_map(self) -> np.ndarray:
        """A reusable n-sized int32 scratch array (vertex -> local id in a subgraph search)."""
        if self._vertex_map is None:
            self._vertex_map = np.zeros(self.n, dtype=np.int32)
        return self._vertex_map

    def chain(self, vertices: list[int], mode: str, bound: float, optimal: bool = True) -> Chain:
        """The :class:`Chain` of these vertices, its steps measured on the graph."""
        return make_chain(vertices, self.arcs.steps_of(vertices), mode, bound, optimal)


Mode = Callable[[SearchSpace, Query], Chain]
