"""Outlines: one drawing in other colours has the same outline; another drawing does not."""

from __future__ import annotations

import numpy as np
from PIL import Image

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.recolours import outline_distances
from xdeg_pipeline.core.images.outline import CELLS, outline
from xdeg_pipeline_tests.helpers.drawings import SKIN, face


def _d(a: Image.Image, b: Image.Image) -> float:
    return float(outline_distances(np.stack([outline(a), outline(b)]), [0], [1])[0])


def test_a_recoloured_drawing_is_within_the_distance_another_drawing_is_not() -> None:
    tones = [face(c) for c in SKIN]
    within = [_d(tones[0], t) for t in tones[1:]]
    assert max(within) <= params.RECOLOUR_DISTANCE, within
    other = [_d(t, face(c, smile=False)) for t in tones for c in SKIN]
    assert min(other) > 2 * params.RECOLOUR_DISTANCE, min(other)


def test_size_does_not_matter_and_the_outline_is_small() -> None:
    a, b = face(SKIN[1], size=128), face(SKIN[3], size=400)
    o = outline(a)
    assert o.dtype == np.uint8 and o.shape == (CELLS,) and o.max() == 255
    assert _d(a, b) <= params.RECOLOUR_DISTANCE


def test_a_blank_picture_has_no_outline_and_matches_nothing() -> None:
    blank = Image.new("RGB", (64, 64), (200, 30, 30))
    assert not outline(blank).any()
    assert _d(blank, Image.new("RGB", (64, 64), (30, 30, 200))) == 1.0
    assert _d(blank, face(SKIN[0])) == 1.0
