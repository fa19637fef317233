"""image_outlines: one outline per content hash, made once; new content only; a missing
thumbnail said in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.images.outline import CELLS, outline
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages.ingest import raw_images
from xdeg_pipeline.core.stages.outlines import image_outlines, outline_matrix, previous_outlines
from xdeg_pipeline.core.stages.thumbnails import thumbnails
from xdeg_pipeline_tests.helpers.collections import make_image


def _settings(tmp_path: Path, n: int) -> Settings:
    """A data folder's settings over ``n`` small pictures."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(n):
        make_image(images / f"img{i}.png", seed=i)
    return Settings(home=tmp_path / "home", images_dir=images, progress="off")


def _build(settings: Settings, warnings: list[str] | None = None):
    raw_images(settings)
    thumbnails(settings)
    return image_outlines(settings, Reporter(warn=(warnings or []).append))


def test_outlines_are_made_once_per_content_hash(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 5)
    images = settings.images_dir
    first = _build(settings)
    assert first.facts == {"made": 5, "reused": 0} and first.state["outlines"] == 5
    files = settings.layout
    hashes = sorted(pd.read_parquet(files.raw_images)["content_hash"])
    store = ThumbnailStore(files.thumbnails_dir)
    matrix, has = outline_matrix(files, hashes + ["f" * 64])
    assert has.tolist() == [True] * 5 + [False] and matrix.shape == (6, CELLS)
    assert (matrix[0] == outline(store.open(hashes[0]))).all()  # drawn from the thumbnail
    assert _build(settings).reused  # nothing changed: the stage is not run
    make_image(images / "img9.png", seed=9)
    again = _build(settings)
    assert again.facts == {"made": 1, "reused": 5} and again.state["outlines"] == 6
    (images / "img0.png").unlink()  # gone from the collection: its row goes
    assert _build(settings).state["outlines"] == 5


def test_an_image_without_a_thumbnail_has_no_outline_and_is_said(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 3)
    raw_images(settings)
    thumbnails(settings)
    files = settings.layout
    victim = sorted(pd.read_parquet(files.raw_images)["content_hash"])[1]
    ThumbnailStore(files.thumbnails_dir).path(victim).unlink()
    warnings: list[str] = []
    result = image_outlines(settings, Reporter(warn=warnings.append))
    assert result.state["without_outline"] == 1 and result.state["outlines"] == 2
    assert len(warnings) == 1 and "1 image(s) without a thumbnail" in warnings[0]
    assert victim not in previous_outlines(files)


def test_an_unreadable_previous_table_is_made_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 1)
    _build(settings)
    files = settings.layout
    files.image_outlines.write_bytes(b"not a parquet file")
    said: list[str] = []
    assert previous_outlines(files, said.append) == {}
    assert len(said) == 1 and "could not be read" in said[0]
    make_image(settings.images_dir / "b.png", seed=2)
    result = _build(settings)
    assert result.state["outlines"] == 2
    assert all(len(v) == CELLS for v in previous_outlines(files).values())
    assert np.frombuffer(next(iter(previous_outlines(files).values())), np.uint8).any()
