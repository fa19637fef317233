"""The thumbnail rule shared by the thumbnails stage and the feature loaders."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from xdeg_pipeline.core.images.thumbnail import (
    ThumbnailJob,
    thumb_size,
    thumbnail_file,
    thumbnail_webp,
)


@pytest.mark.parametrize("w, h", [(200, 100), (100, 200), (1000, 3), (3, 1000), (129, 128),
                                  (128, 128), (60, 40), (4032, 3024), (333, 777), (500, 499)])
def test_thumb_size_rounds_as_pillow(w: int, h: int) -> None:
    img = Image.new("RGB", (w, h))
    img.thumbnail((128, 128))
    assert thumb_size(w, h, 128) == img.size


def test_a_small_decode_gives_no_thumbnail_unless_enlarged() -> None:
    small = Image.new("RGB", (64, 32), (10, 20, 30))
    assert thumbnail_webp(small, (400, 200), 128) is None  # would have to enlarge
    data = thumbnail_webp(small, (400, 200), 128, enlarge=True)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP" and im.size == (128, 64)


def test_job_writes_only_content_hashes_once(tmp_path) -> None:
    good, bad = "a" * 64, "../../etc/x"
    job = ThumbnailJob.of(tmp_path, 128, [good, bad])
    img = Image.new("RGB", (300, 150), (200, 30, 30))
    assert job.wanted(0) and not job.wanted(1)
    assert job.save(0, img, img.size)
    assert not job.wanted(0)  # made: never made again
    with Image.open(thumbnail_file(tmp_path, 128, good)) as im:
        assert im.format == "WEBP" and im.size == (128, 64)
