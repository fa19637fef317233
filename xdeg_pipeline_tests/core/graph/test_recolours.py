"""Recoloured edges: marked where both images are in one recolour group (joined by outlines
within the distance), else not."""

from __future__ import annotations

import numpy as np

from xdeg_pipeline.core.graph.recolours import (
    mark_recoloured,
    outline_distances,
    recolour_groups,
    recoloured_edges,
)
from xdeg_pipeline.core.images.outline import CELLS
from xdeg_pipeline_tests.helpers.graphs import weighted_graph


def _outlines() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, CELLS)
    other = rng.integers(0, 256, CELLS)
    near = np.clip(base + rng.integers(-3, 4, CELLS), 0, 255)
    return np.array([base, near, other, base], dtype=np.uint8)


def test_only_pairs_of_one_outline_are_marked() -> None:
    o, has = _outlines(), np.array([True, True, True, False])
    eu, ev = np.array([0, 0, 1, 0]), np.array([1, 2, 2, 3])
    assert recoloured_edges(eu, ev, o, has, 0.05).tolist() == [True, False, False, False]
    # 0 - 3 share one outline, but 3 has none recorded (no thumbnail): not marked
    assert not recoloured_edges(eu, ev, o, has, 0.0).any()  # distance 0: none marked


def test_the_graph_carries_the_marks() -> None:
    g = weighted_graph(4, [(0, 1), (0, 2), (1, 2)], [0.3, 0.5, 0.5])
    g["params"] = {}
    assert mark_recoloured(g, _outlines(), np.ones(4, bool), 0.05) == 1
    assert g.es["recolour"] == [True, False, False]
    assert g["params"]["recoloured_edges"] == 1


def test_a_group_holds_every_colouring_even_the_far_apart_ones() -> None:
    """0 ~ 1 ~ 2 step by step (each close to the next), 0 and 2 further apart: one group, so the
    edge 0 - 2 is recoloured too; 3 and 4 are another drawing."""
    rng = np.random.default_rng(1)
    base = rng.integers(40, 200, CELLS)
    drift = rng.integers(-25, 26, CELLS)
    o = np.array([base, base + drift // 2, base + drift, rng.integers(0, 256, CELLS),
                  rng.integers(0, 256, CELLS)], dtype=np.uint8)
    d = outline_distances(o, np.array([0, 1, 0]), np.array([1, 2, 2]))
    limit = float((d[0] + d[2]) / 2)
    assert d[0] <= limit and d[1] <= limit < d[2]  # 0 - 2 alone would not be marked
    eu, ev = np.array([0, 1, 0, 2, 3]), np.array([1, 2, 2, 3, 4])
    has = np.ones(5, bool)
    assert recoloured_edges(eu, ev, o, has, limit).tolist() == [True, True, True, False, False]
    groups = recolour_groups(5, eu, ev, np.array([True, True, False, False, False]))
    assert groups.tolist() == [0, 0, 0, -1, -1]
