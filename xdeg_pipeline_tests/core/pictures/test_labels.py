"""Label placement: near the anchor, never over another label or an obstacle."""

from __future__ import annotations

import itertools

import pytest

from xdeg_pipeline.core.pictures.labels import leader_end, overlaps, place_labels

BOUNDS = (0.0, 0.0, 600.0, 400.0)


def test_a_free_label_sits_on_its_anchor() -> None:
    (box,) = place_labels([(100, 100)], [(20, 10)], BOUNDS)
    assert box == (90, 95, 110, 105)


@pytest.mark.parametrize("n", [2, 12, 40])
def test_labels_piled_on_one_point_spread_out_without_overlaps(n: int) -> None:
    obstacles = [(280.0, 180.0, 320.0, 220.0)]  # the images at the anchor
    boxes = place_labels([(300, 200)] * n, [(18 + 4 * (i % 3), 14) for i in range(n)], BOUNDS,
                         obstacles=obstacles)
    assert len(boxes) == n
    for a, b in itertools.combinations(boxes, 2):
        assert not overlaps(a, b), (a, b)
    for box in boxes:
        assert not overlaps(box, obstacles[0])
        assert BOUNDS[0] <= box[0] and box[2] <= BOUNDS[2]
        assert BOUNDS[1] <= box[1] and box[3] <= BOUNDS[3]
    near = max(abs((b[0] + b[2]) / 2 - 300) + abs((b[1] + b[3]) / 2 - 200) for b in boxes)
    assert near < 200, "labels stay near their anchor"


def test_labels_at_the_edge_stay_inside() -> None:
    boxes = place_labels([(0, 0), (600, 400)], [(50, 14), (50, 14)], BOUNDS)
    assert all(BOUNDS[0] <= b[0] and b[2] <= BOUNDS[2] and b[3] <= BOUNDS[3] for b in boxes)


def test_leader_end_is_on_the_box_edge() -> None:
    assert leader_end((10, 10, 20, 20), 50, 15) == (20, 15)
    assert leader_end((10, 10, 20, 20), 15, 15) == (15, 15)
