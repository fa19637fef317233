"""Markdown for the Dagster UI: escaped text, tables and inline PNG images.

Names come from file names and are treated as hostile: every piece of text is backslash-escaped
for the Markdown it lands in and HTML-escaped where the UI would render raw HTML.
"""

from __future__ import annotations

import base64
import html

import pandas as pd

#: The largest picture the UI's metadata view shows whole: its "Show Markdown" dialog is 80 % of
#: the window wide less 20 px padding each side (984 px of content at a 1,280 px window, measured
#: in Chromium, Dagster 1.13), and shows an image at its own size; 600 px high leaves room for
#: the dialog's title and buttons in an 800 px high window.
UI_MAX_WIDTH, UI_MAX_HEIGHT = 940, 600
#: Characters escaped in a table cell: inline formatting, links and the cell separator.
TABLE_CELL_SPECIAL = "\\`*_[]~|"
#: Characters escaped in an image's alt text (inside ``![...]``): every Markdown punctuation
#: mark, and ``<>&`` since the alt text is not HTML-escaped.
ALT_TEXT_SPECIAL = "\\`*_{}[]()#+-.!|<>&"


def escape(text: str, special: str = TABLE_CELL_SPECIAL) -> str:
    """``text`` with each character of ``special`` backslash-escaped."""
    return "".join("\\" + ch if ch in special else ch for ch in text)


def table_cell(value: object) -> str:
    """One table cell: Markdown punctuation escaped, HTML escaped, on one line."""
    text = html.escape(escape(str(value)), quote=False)
    return text.replace("\r", " ").replace("\n", " ")


def table(df: pd.DataFrame, max_rows: int = 50) -> str:
    """A Markdown table of the first ``max_rows`` rows (``_none_`` when empty)."""
    if df.empty:
        return "_none_"
    head = df.head(max_rows)
    lines = ["| " + " | ".join(table_cell(c) for c in head.columns) + " |"]
    lines.append("|" + "---|" * len(head.columns))
    for row in head.itertuples(index=False):
        lines.append("| " + " | ".join(table_cell(v) for v in row) + " |")
    if len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more rows in the file_")
    return "\n".join(lines)


def png_image(png: bytes, alt: str) -> str:
    """An image with the PNG inlined as a data URI (alt text escaped)."""
    data = base64.b64encode(png).decode("ascii")
    return f"![{escape(' '.join(alt.split()), ALT_TEXT_SPECIAL)}](data:image/png;base64,{data})"
