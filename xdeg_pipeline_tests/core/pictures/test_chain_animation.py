"""A chain as an animation: every frame the same size, each image's credit under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from xdeg_pipeline.core.pictures.chain_animation import chain_animation
from xdeg_pipeline_tests.helpers.pictures import sample_images


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_each_frame_carries_its_images_credit(tmp_path: Path) -> None:
    images = sample_images(tmp_path / "src")[:3]
    labels = ["a", "b", "c"]
    kw = {"steps": [0.5, 0.7], "size": 64, "fade_frames": 1}
    plain = _frames(chain_animation(images, labels, tmp_path / "a.gif", **kw))
    records = [{"credit": "Gift of <script>x</script>", "rights": "CC BY 4.0"}, None,
               {"credit": "Museum", "rights": None}]
    credited = _frames(chain_animation(images, labels, tmp_path / "b.gif", provenance=records,
                                       **kw))
    assert len(credited) == len(plain) == 5
    assert len({f.shape for f in credited}) == 1  # a frame without a credit keeps its room
    assert credited[0].shape[0] > plain[0].shape[0]
    bottom = credited[0].shape[0] - plain[0].shape[0]
    ink = [int((f[-bottom:] < 200).any(axis=-1).sum()) for f in credited[::2]]
    assert ink[0] > 0 and ink[1] == 0 and ink[2] > 0  # the middle image has no credit
    # no credit at all: no room taken
    none = [{"credit": None, "rights": None}] * 3
    assert _frames(chain_animation(images, labels, tmp_path / "c.gif", provenance=none,
                                   **kw))[0].shape == plain[0].shape
    with pytest.raises(ValueError):
        chain_animation(images, labels, tmp_path / "d.gif", provenance=records[:1])
