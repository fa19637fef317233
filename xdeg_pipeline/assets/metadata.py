"""Metadata for the Dagster UI: tables, paths, inline plots and chain strips."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import MetadataValue

from xdeg_pipeline.core import markdown
from xdeg_pipeline.core.query import ChainResult
from xdeg_pipeline.core.render import strip_markdown


def md_table(df: pd.DataFrame, max_rows: int = 50) -> MetadataValue:
    """A markdown table for the UI, with every cell escaped."""
    return MetadataValue.md(markdown.table(df, max_rows))


def path_meta(path: Path) -> MetadataValue:
    """A file path as metadata."""
    return MetadataValue.path(str(path))


def to_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as metadata: paths as paths, tables as markdown, numpy scalars as numbers;
    None is left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Path):
            value = path_meta(value)
        elif isinstance(value, pd.DataFrame):
            value = md_table(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def plot(draw: Callable[[Any], None], alt: str) -> MetadataValue:
    """A matplotlib plot drawn by ``draw(ax)`` as an inline PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    try:
        draw(ax)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return MetadataValue.md(markdown.png_image(buf.getvalue(), alt))


def variance_plot(ratio: np.ndarray) -> MetadataValue:
    """Cumulative explained variance of the PCA components."""

    def draw(ax: Any) -> None:
        ax.plot(np.arange(1, len(ratio) + 1), np.cumsum(ratio), marker=".")
        ax.set_xlabel("components")
        ax.set_ylabel("cumulative explained variance")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)

    return plot(draw, "explained variance")


def degree_histogram(counts: Sequence[int]) -> MetadataValue:
    """Degree histogram (``counts[d]`` images of degree d, log scale)."""

    def draw(ax: Any) -> None:
        ax.bar(np.arange(len(counts)), counts, width=1.0, color="#4a7ab5")
        ax.set_xlabel("degree")
        ax.set_ylabel("images")
        ax.set_yscale("log")

    return plot(draw, "degree histogram")


def strips(results: Sequence[ChainResult], limit: int = 10) -> dict[str, MetadataValue]:
    """The picture strip of the first ``limit`` chains, one entry each."""
    return {f"strip_{r.chain_id}": MetadataValue.md(strip_markdown(r.png))
            for r in results[:limit] if r.png is not None}
