"""Metadata for the Dagster UI: tables, paths, inline plots and chain strips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from dagster import MetadataValue

from xdeg_pipeline.core.pictures import markdown

if TYPE_CHECKING:  # core.query pulls in igraph: imported only where chains are shown
    from xdeg_pipeline.core.query import ChainResult
    from xdeg_pipeline.core.stage import StageResult

#: The per-shard figures of image_features' shard table, and their names in a partition's
#: metadata.
SHARD_FIGURES = {"images": "shard_images", "computed": "shard_images_computed",
                 "reused": "shard_images_reused", "failed": "shard_images_failed"}


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


def run_totals(result: StageResult, *keys: str) -> dict[str, Any]:
    """Facts of a run that spans several partitions, named ``run_<key>``: Dagster gives one
    materialisation's metadata to every partition of the run (no per-partition metadata,
    dagster#18123), so a total must not read as the partition's own."""
    return {f"run_{key}": result.get(key) for key in keys}


def shard_figures(shards: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Each shard's own figures (a row of the stage's shard table), by shard."""
    return {str(row["shard"]): {name: int(row[col]) for col, name in SHARD_FIGURES.items()}
            for row in shards.to_dict("records")}


def plot(png: Callable[[], bytes], alt: str, data: Any = None,
         cache_dir: Path | None = None) -> MetadataValue:
    """The chart ``png()`` draws (:mod:`xdeg_pipeline.core.pictures.charts`) as an inline PNG.
    With ``cache_dir``, the last chart of this ``alt`` is kept there (``plot-<alt>.md``) and
    reused while ``data`` (what was drawn) is the same: a build with nothing changed draws
    nothing."""
    cached = key = None
    if cache_dir is not None:
        import hashlib

        key = hashlib.sha256(repr((alt, np.asarray(data).tolist())).encode()).hexdigest()[:16]
        cached = Path(cache_dir) / f"plot-{alt.replace(' ', '_')}.md"
        try:
            first, _, text = cached.read_text(encoding="utf-8").partition("\n")
            if first == key:
                return MetadataValue.md(text)
        except OSError:
            pass
    text = markdown.png_image(png(), alt)
    if cached is not None:
        from xdeg_pipeline.core.storage.atomic import write_text

        write_text(f"{key}\n{text}", cached)
    return MetadataValue.md(text)


def variance_plot(ratio: np.ndarray, cache_dir: Path | None = None) -> MetadataValue:
    """Cumulative explained variance of the PCA components."""
    from xdeg_pipeline.core.pictures.charts import line_chart

    return plot(lambda: line_chart(np.cumsum(ratio), xlabel="components",
                                   ylabel="cumulative explained variance", ylim=(0, 1)),
                "explained variance", ratio, cache_dir)


def degree_histogram(counts: Sequence[int], cache_dir: Path | None = None) -> MetadataValue:
    """Degree histogram (``counts[d]`` images of degree d, log scale)."""
    from xdeg_pipeline.core.pictures.charts import histogram

    return plot(lambda: histogram(counts, xlabel="degree", ylabel="images"),
                "degree histogram", counts, cache_dir)


def picture(path: Path) -> MetadataValue:
    """A PNG file inline (render is imported only where pictures are shown)."""
    from xdeg_pipeline.core.pictures.render import strip_markdown

    return MetadataValue.md(strip_markdown(Path(path)))


def chain_maps(maps: dict[Path, bytes]) -> dict[str, MetadataValue]:
    """The collection map with each chain drawn over it, one entry each (``map_<chain>``)."""
    return {f"map_{Path(path).name.split('.')[0]}": picture(path)
            for path in maps}


def strips(pictures: dict[str, bytes]) -> dict[str, MetadataValue]:
    """Each chain's strip (PNG bytes by chain id, wrapped to be seen whole), one entry each."""
    return {f"strip_{chain_id}": MetadataValue.md(markdown.png_image(png, f"strip {chain_id}"))
            for chain_id, png in pictures.items()}


def provenance_table(results: Sequence[ChainResult], limit: int = 10) -> pd.DataFrame | None:
    """Where each image of the first ``limit`` chains comes from: one row per image (chain,
    position, name and its provenance record); columns no image fills are left out."""
    rows = [{"chain_id": r.chain_id, "position": i, "name": n, **(r.images.get(n) or {})}
            for r in results[:limit] for i, n in enumerate(r.path)]
    if not rows:
        return None
    return pd.DataFrame(rows).dropna(axis=1, how="all").fillna("")


def example_strips(paths: Sequence[str | Path], prefix: str = "example"
                   ) -> dict[str, MetadataValue]:
    """Inline pictures of strips written by a stage, one entry each (missing files left out)."""
    return {f"{prefix}_{Path(p).stem}": picture(p)
            for p in paths if Path(p).exists()}
