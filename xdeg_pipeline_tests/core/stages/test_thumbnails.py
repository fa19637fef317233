"""The thumbnails stage repairs a thumbnail file damaged on disk instead of failing the build."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image

from xdeg_pipeline.core.pictures import atlases as atlas
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages.ingest import raw_images
from xdeg_pipeline.core.stages.thumbnails import thumbnails
from xdeg_pipeline_tests.helpers.collections import make_image


def test_a_damaged_thumbnail_is_made_again_and_reported(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(6):
        make_image(images / f"img{i}.png", seed=i)
    settings = Settings(home=tmp_path / "home", images_dir=images, progress="off")
    raw_images(settings)
    thumbnails(settings)
    files = settings.layout
    store = ThumbnailStore(files.thumbnails_dir)
    hashes = pd.read_parquet(files.raw_images)["content_hash"].tolist()
    victim = sorted(hashes)[2]
    good = store.path(victim).read_bytes()
    store.path(victim).write_bytes(good[: len(good) // 3])  # truncated on disk
    make_image(images / "img9.png", seed=9)  # a new image: its atlas sheet is drawn again
    raw_images(settings)
    warnings: list[str] = []
    result = thumbnails(settings, Reporter(warn=warnings.append))
    assert len(warnings) == 1 and "1 damaged thumbnail" in warnings[0], warnings
    assert "img" in warnings[0]  # names the image file
    with Image.open(store.path(victim)) as im:  # made again, whole
        assert im.size[0] > 0 and im.convert("RGB").getbbox() is not None
    assert result.state["without_thumbnail"] == 0
    sheets = atlas.load_atlases(files.atlas_index, files.atlas_sheets)
    assert victim in set(sheets.index["content_hash"])
    fresh = ThumbnailStore(files.thumbnails_dir)
    assert fresh.open(victim) is not None and not fresh.damaged
