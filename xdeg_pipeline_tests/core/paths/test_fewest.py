"""The cheapest of the chains with the fewest steps (issue 21: smooth does not crawl)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from xdeg_pipeline.core.paths.fewest import STEPS_SIZED_FOR, fewest_steps_search


def fewest_steps_chain(A: csr_matrix, s: int, t: int, **kw) -> list[int] | None:
    """The chain of :func:`fewest_steps_search` alone."""
    return fewest_steps_search(A, s, t, **kw)[0]


def _arcs(n: int, edges: list[tuple[int, int, float]], both: bool = True) -> csr_matrix:
    rows, cols, data = [], [], []
    for u, v, c in edges:
        rows.append(u), cols.append(v), data.append(c)
        if both:
            rows.append(v), cols.append(u), data.append(c)
    return csr_matrix((data, (rows, cols)), shape=(n, n))


def test_fewer_steps_beat_a_cheaper_chain_and_the_cheapest_of_those_wins():
    cheap_long = [(0, 1, 0.1), (1, 2, 0.1), (2, 3, 0.1)]
    dear = [(0, 4, 5.0), (4, 3, 5.0)]
    assert fewest_steps_chain(_arcs(6, cheap_long + dear), 0, 3) == [0, 4, 3]
    cheaper = [(0, 5, 1.0), (5, 3, 1.0)]
    assert fewest_steps_chain(_arcs(6, cheap_long + dear + cheaper), 0, 3) == [0, 5, 3]


def test_chains_longer_than_the_first_search_was_sized_for():
    """70 dear steps against 71 nearly free ones: the first search (sized for
    STEPS_SIZED_FOR steps) picks the 71, the second the 70."""
    assert STEPS_SIZED_FOR < 70
    a = list(range(0, 70)) + [200]  # 0 .. 69, then the target 200: 70 steps
    b = [0, *range(100, 170), 200]  # 0, 100 .. 169, 200: 71 steps
    edges = [(u, v, 1.0) for u, v in zip(a[:-1], a[1:])]
    edges += [(u, v, 0.001) for u, v in zip(b[:-1], b[1:])]
    assert fewest_steps_chain(_arcs(201, edges), 0, 200) == a


def test_unreachable_and_one_way_arcs():
    A = _arcs(4, [(0, 1, 1.0), (1, 2, 1.0)], both=False)
    assert fewest_steps_chain(A, 0, 2) == [0, 1, 2]
    assert fewest_steps_chain(A, 2, 0) is None  # the arcs only lead away from 2
    assert fewest_steps_chain(A, 2, 0, directed=False) == [2, 1, 0]
    assert fewest_steps_chain(A, 0, 3) is None
    assert fewest_steps_chain(A, 3, 3) == [3]


def test_an_arc_may_count_for_more_than_one_step():
    """units: a dear arc counted as two steps makes its 2-step chain tie with a 3-step one
    (the cheaper wins); counted as one and a half it still saves half a step."""
    import numpy as np

    edges = [(0, 1, 5.0), (1, 3, 1.0), (0, 2, 1.0), (2, 4, 1.0), (4, 3, 1.0)]
    A = _arcs(5, edges, both=False)
    assert fewest_steps_chain(A, 0, 3) == [0, 1, 3]  # 2 steps against 3
    coo = A.tocoo()  # in the order of A.data
    units = np.where((coo.row == 0) & (coo.col == 1), 2.0, 1.0)
    assert fewest_steps_chain(A, 0, 3, units=units) == [0, 2, 4, 3]  # 3 = 3: cost 3 < 6
    units = np.where(units > 1, 1.5, 1.0)
    assert fewest_steps_chain(A, 0, 3, units=units) == [0, 1, 3]  # 2.5 < 3


def test_the_search_measures_every_images_steps_from_the_source():
    """The step counts it returns are the fewest steps to each image (what the spare step
    starts from), inf where none reaches."""
    rng = np.random.default_rng(5)
    edges = [(int(u), int(v), float(c)) for u, v, c in
             zip(rng.integers(0, 40, 90), rng.integers(0, 40, 90), rng.uniform(0.1, 2, 90))
             if u != v]
    A = _arcs(42, edges)  # vertices 40 and 41 have no arcs
    path, steps = fewest_steps_search(A, 0, int(edges[0][1]))
    hops = shortest_path(A, unweighted=True, indices=0)
    assert path is not None and np.array_equal(steps, hops)
    assert np.isinf(steps[40]) and steps[0] == 0
