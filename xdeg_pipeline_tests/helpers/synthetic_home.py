"""A large synthetic data folder (10,000 images) for measuring the explorer's map in a browser:
real image files, thumbnails, atlases and a graph built by core, but random features and a
random map instead of CNN features and t-SNE (what is measured is the page, not the build)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from xdeg_pipeline.core.graph.build import build_graph, save_graph
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.paths.load import attach_hub_load
from xdeg_pipeline.core.pictures.collection_map import write_map
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.thumbnails import thumbnails
from xdeg_pipeline.core.storage.atomic import write_parquet
from xdeg_pipeline.core.storage.feature_table import write_feature_table
from xdeg_pipeline.core.storage.layout import Layout


def build_synthetic_home(root: Path, n: int = 10_000, seed: int = 0,
                         vectors: bool = False) -> dict:
    """``n`` small pictures in ``root/images`` and a built data folder in ``root/home``
    (``vectors``: with the graph's vectors as ``pca_features``, also returned as ``X``)."""
    rng = np.random.default_rng(seed)
    images, home = root / "images", root / "home"
    layout = Layout(home)
    names, hashes = [], []
    colours = rng.integers(0, 256, (n, 2, 3))
    for i in range(n):
        name = f"g{i // 1000:02d}/s{i:05d}.png"
        img = Image.new("RGB", (32, 32), tuple(int(c) for c in colours[i, 0]))
        img.paste(tuple(int(c) for c in colours[i, 1]), (8, 8, 8 + i % 17, 8 + i % 13))
        path = images / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        names.append(name)
        hashes.append(hashlib.sha256(path.read_bytes()).hexdigest())
    write_parquet(pd.DataFrame({"name": names, "content_hash": hashes}), layout.raw_images)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    graph = attach_hub_load(build_graph(knn_edges(X, k=10), X, vertex_attrs={
        "content_hash": hashes, "name": names, "names": [[x] for x in names]}))
    save_graph(graph, layout.similarity_graph)  # as the similarity_graph stage writes it
    if vectors:
        write_feature_table(hashes, X, layout.pca_features)
    thumbnails(Settings.from_env(environ={}, home=home, images_dir=images))
    xy = rng.normal(size=(n, 2)) * [1.0, 0.7]
    write_map(pd.DataFrame({"content_hash": hashes, "x": xy[:, 0], "y": xy[:, 1]}),
              layout.collection_map)
    return {"images": images, "home": home, "names": names, **({"X": X} if vectors else {})}
