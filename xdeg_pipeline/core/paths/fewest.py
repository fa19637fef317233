"""The cheapest of the chains with the fewest steps: how ``smooth`` stops crawling (issue 21).

Under its cap (the largest step allowed) a chain could cross a design series, or any dense part
of a collection, in many short steps or in a few steps near the cap. A power of the step length
as the cost prefers the many short ones, and a viewer sees the same picture again and again.
Here the number of steps comes first: the fewest steps any chain under the cap needs, then the
least cost among the chains of that many steps. One Dijkstra search does both: every arc costs
``big`` more than its own cost, where ``big`` is at least the summed cost of any chain of the
steps found (its number of steps times the dearest arc), so one step fewer always outweighs
any difference of the arcs' own costs. The search is repeated with a larger ``big`` in the rare
case that the chain found has more steps than ``big`` was sized for.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from xdeg_pipeline.core.paths.arcs import trace

STEPS_SIZED_FOR = 64  # ``big`` covers chains of up to this many steps at the first search


def fewest_steps_search(A: csr_matrix, s: int, t: int, directed: bool = True,
                        units: np.ndarray | None = None
                        ) -> tuple[list[int] | None, np.ndarray | None]:
    """The least-cost chain from s to t among those with the fewest steps over the arcs of
    ``A`` (values: each arc's cost, > 0; ``directed=False``: every stored arc may be walked
    both ways), or None when t cannot be reached. ``units``: how many steps each arc counts
    for (aligned with ``A.data``; multiples of 1/2, at least 1; default 1 each). Also, per
    vertex, a lower bound of its steps from s (counted in ``units``) that the same search
    measured (inf where unreached; None when s == t or ``A`` has no arcs): what
    :mod:`.spare` starts from."""
    if s == t:
        return [s], None
    if A.nnz == 0:
        return None, None
    dearest = float(A.data.max())
    count = 1.0 if units is None else np.asarray(units, dtype=np.float64)
    quantum = 1.0 if units is None else 0.5  # the least difference of two chains' step counts
    sized_for = STEPS_SIZED_FOR
    while True:
        big = sized_for * dearest / quantum
        B = csr_matrix((A.data + big * count, A.indices, A.indptr), shape=A.shape)
        dist, pred = dijkstra(B, directed=directed, indices=s, return_predecessors=True)
        if not np.isfinite(dist[t]):
            return None, None
        path = trace(pred, s, t)
        if len(path) - 1 <= sized_for:
            # dist = steps x big + the chain's own cost (< big): rounded down, a lower bound
            steps = np.maximum(np.floor(dist / big - 1e-9), 0.0) * quantum
            return path, steps
        sized_for = len(path) - 1
