"""Label placement for pictures: each label as near its anchor as it can go without covering
another label or an obstacle (greedy, in the order given, on rings of growing radius)."""

from __future__ import annotations

import math
from collections.abc import Sequence

Box = tuple[float, float, float, float]  # left, top, right, bottom
MAX_RINGS = 60  # the search stops 60 steps from the anchor (8 x 60 x 61 / 2 positions)


def overlaps(a: Box, b: Box, margin: float = 0.0) -> bool:
    """Whether two boxes overlap (closer than ``margin``)."""
    return (a[0] < b[2] + margin and b[0] < a[2] + margin
            and a[1] < b[3] + margin and b[1] < a[3] + margin)


def _inside(box: Box, bounds: Box) -> bool:
    return (box[0] >= bounds[0] and box[1] >= bounds[1]
            and box[2] <= bounds[2] and box[3] <= bounds[3])


def _candidates(x: float, y: float, w: float, h: float, step: float, rings: int):
    """Boxes of size w x h around (x, y): centred on it, then on rings of growing radius."""
    yield (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    for ring in range(1, rings + 1):
        r = ring * step
        count = 8 * ring
        for k in range(count):
            a = 2 * math.pi * k / count - math.pi / 2  # from straight up, clockwise
            cx, cy = x + r * math.cos(a), y + r * math.sin(a)
            yield (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def place_labels(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]],
                 bounds: Box, obstacles: Sequence[Box] = (), gap: float = 2.0,
                 step: float | None = None) -> list[Box]:
    """A box for each label (``sizes[i]`` around ``anchors[i]``), in order: the nearest
    position inside ``bounds`` that overlaps no box placed before and no obstacle (at least
    ``gap`` apart). When no position is free, the label goes where it overlaps the fewest."""
    placed: list[Box] = []
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    for (x, y), (w, h) in zip(anchors, sizes):
        s = step or max(6.0, min(w, h) / 2)
        best, best_hits = None, math.inf
        for box in _candidates(x, y, w, h, s, min(int(span / s) + 1, MAX_RINGS)):
            if not _inside(box, bounds):
                continue
            hits = sum(overlaps(box, o, gap) for o in (*placed, *obstacles))
            if hits < best_hits:
                best, best_hits = box, hits
                if hits == 0:
                    break
        if best is None:  # nothing fits inside: clamp to the bounds
            left = min(max(bounds[0], x - w / 2), bounds[2] - w)
            top = min(max(bounds[1], y - h / 2), bounds[3] - h)
            best = (left, top, left + w, top + h)
        placed.append(best)
    return placed


def leader_end(box: Box, x: float, y: float) -> tuple[float, float]:
    """The point of ``box``'s edge nearest (x, y): where a leader line to the anchor starts."""
    return (min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3]))
