"""Helpers shared by the asset modules: metadata rendering and logging glue."""

import html
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue

from xdeg_pipeline.core.layout import Layout
from xdeg_pipeline.core.progress import ProgressFn, progress_reporter
from xdeg_pipeline.resources import XdegResource

CODE_VERSION = "1"


def layout(xdeg: XdegResource) -> Layout:
    """The file layout of the configured data folder."""
    return Layout(xdeg.home_path())


def progress(context: AssetExecutionContext, desc: str) -> ProgressFn:
    """A progress callback that logs to the Dagster run (and a bar on the CLI)."""
    return progress_reporter(desc, context.log.info)


_MD_SPECIAL = "\\`*_[]~|"


def _cell(value: object) -> str:
    """One table cell: Markdown punctuation backslash-escaped, HTML escaped, on one line."""
    text = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(value))
    return html.escape(text, quote=False).replace("\r", " ").replace("\n", " ")


def md_table(df: pd.DataFrame, max_rows: int = 50) -> MetadataValue:
    """A markdown table for the UI, with every cell escaped."""
    if df.empty:
        return MetadataValue.md("_none_")
    head = df.head(max_rows)
    lines = ["| " + " | ".join(_cell(c) for c in head.columns) + " |"]
    lines.append("|" + "---|" * len(head.columns))
    for row in head.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more rows in the file_")
    return MetadataValue.md("\n".join(lines))


def path_meta(path: Path) -> MetadataValue:
    """A file path as metadata."""
    return MetadataValue.path(str(path))
