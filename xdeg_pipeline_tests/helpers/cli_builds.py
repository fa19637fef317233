"""`xdeg` run in process on a data folder (its own environment, output captured), and the
comparison of two data folders' kNN tables and graphs."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd

from xdeg_pipeline.cli import main
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline_tests.helpers.explorer_home import own_environment


def xdeg(*args: str) -> tuple[int, str, str]:
    """``xdeg ARGS`` in process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with own_environment(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def xdeg_build(images: Path, home: Path) -> tuple[int, str, str]:
    """``xdeg build --images IMAGES --home HOME``."""
    return xdeg("build", "--images", str(images), "--home", str(home))


def same_outputs(a: Path, b: Path) -> None:
    """The PCA features, kNN table and graph of two data folders are equal."""
    for name in ("knn_edges.parquet", "knn_rows.parquet", "pca_features.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))
    ga = load_graph(a / "similarity_graph.pkl", allowed_root=a)
    gb = load_graph(b / "similarity_graph.pkl", allowed_root=b)
    assert ga.vs["content_hash"] == gb.vs["content_hash"]
    assert sorted(ga.get_edgelist()) == sorted(gb.get_edgelist())
