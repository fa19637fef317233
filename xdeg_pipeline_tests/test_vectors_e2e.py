"""Your own vectors, end to end from the CLI: a vectors build equals (same kNN table, same
graph) the build whose features stage computed those vectors; images without a vector and
rows for no image are reported; rows added later are new images (incremental)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline import cli
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.storage.tables import read_feature_table


def _build(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["build", "--json", *args])
    assert code == 0, out.getvalue()[-2000:]
    return json.loads(out.getvalue())


def _edges(home: Path) -> set[tuple[str, str]]:
    g = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    h = g.vs["content_hash"]
    return {tuple(sorted((h[e.source], h[e.target]))) + (round(e["weight"], 6),)
            for e in g.es}


def _vectors(path: Path, hashes: list[str], X: np.ndarray, key: str = "content_hash",
             names: dict[str, str] | None = None, extra: int = 0) -> Path:
    keys = [names[h] for h in hashes] if names else list(hashes)
    rows = [{key: k, "vector": x.tolist()} for k, x in zip(keys, X)]
    rows += [{key: f"not/in/collection_{i}.png", "vector": X[0].tolist()} for i in range(extra)]
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_a_vectors_build_equals_the_model_build(xdeg_env: dict[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    home = xdeg_env["home"]
    _build()
    hashes, X = read_feature_table(home / "image_features.parquet")
    table = _vectors(tmp_path / "v.parquet", hashes, X)
    home2 = tmp_path / "home2"
    summary = _build("--home", str(home2), "--vectors", str(table))
    assert summary["image_features"]["runtime"] == "vectors"
    a, b = (pd.read_parquet(h / "knn_edges.parquet") for h in (home, home2))
    pd.testing.assert_frame_equal(a, b)
    assert _edges(home) == _edges(home2)

    # by name, two images without a vector, three rows for no image
    raw = pd.read_parquet(home / "raw_images.parquet")
    names = dict(zip(raw["content_hash"], raw["name"]))
    keep = [i for i, h in enumerate(hashes) if i not in (3, 7)]
    part = _vectors(tmp_path / "part.parquet", [hashes[i] for i in keep], X[keep], "name",
                    names, extra=3)
    monkeypatch.setenv("XDEG_VECTORS", str(part))
    home3 = tmp_path / "home3"
    summary = _build("--home", str(home3))
    assert summary["image_features"]["vectors_extra_rows"] == 3
    assert "not/in/collection_0.png" in summary["image_features"]["vectors_extra_examples"]
    rejected = pd.read_parquet(home3 / "rejected_images.parquet")
    assert sorted(rejected["name"]) == sorted(names[hashes[i]] for i in (3, 7))
    assert set(rejected["stage"]) == {"features"} and set(rejected["reason"]) == {"no_vector"}
    assert summary["image_features"]["images"] == 22

    # the table gains the two rows: they are new images, the other shards are reused
    _vectors(part, hashes, X, "name", names)
    summary = _build("--home", str(home3))
    assert summary["image_features"]["images"] == 24
    assert summary["image_features"]["shards_computed"] <= 2
    assert pd.read_parquet(home3 / "rejected_images.parquet").empty
    graph = load_graph(home3 / "similarity_graph.pkl", allowed_root=home3)
    assert graph.vcount() == 24  # (the PCA fitted on 22 is kept, as when files are added)
