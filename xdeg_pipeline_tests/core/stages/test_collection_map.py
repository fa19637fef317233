"""The collection_map stage: a grown collection's picture made by adding the new images to the
stored one, the same picture as drawing it whole."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from xdeg_pipeline.core.pictures.collection_map import MapParams
from xdeg_pipeline.core.pictures.visuals import map_picture_png
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.collection_map import collection_map
from xdeg_pipeline.core.storage.feature_table import write_feature_table
from xdeg_pipeline.core.storage.state import write_state
from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

FAST = MapParams(early_exaggeration_iter=100, n_iter=150, place_iter=100)


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def test_new_images_are_pasted_onto_the_stored_map_picture(tmp_path: Path) -> None:
    built = build_synthetic_home(tmp_path, n=80, vectors=True)
    settings = Settings.from_env(environ={}, home=built["home"], images_dir=built["images"])
    files = settings.layout
    hashes, X = [str(h) for h in _hashes(files)], built["X"]
    centre = int(np.argmin(np.linalg.norm(X - X.mean(0), axis=1)))
    X = X.copy()
    X[75:] = X[centre] + np.random.default_rng(1).normal(0, 0.01, (5, X.shape[1]))  # central
    files.collection_map.unlink()

    write_feature_table(hashes[:75], X[:75], files.pca_features)
    write_state(files.home, "pca_features", {"output_fingerprint": "75 images"})
    first = collection_map(settings, params=FAST)
    assert first.get("mode") == "fit" and first.get("picture_drawn") == "whole"

    write_feature_table(hashes, X, files.pca_features)
    write_state(files.home, "pca_features", {"output_fingerprint": "80 images"})
    grown = collection_map(settings, params=FAST)
    assert grown.get("mode") == "place" and grown.get("placed") == 5
    assert grown.get("picture_drawn") == "the new images"
    whole = map_picture_png(files)
    assert np.array_equal(_pixels(files.collection_map_png.read_bytes()), _pixels(whole))


def _hashes(files) -> list[str]:
    import pandas as pd

    return pd.read_parquet(files.raw_images)["content_hash"].tolist()
