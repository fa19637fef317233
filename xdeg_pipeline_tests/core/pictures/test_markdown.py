"""Markdown for the UI: hostile names escaped in tables and alt texts, images inlined."""

from __future__ import annotations

import base64

import pandas as pd

from xdeg_pipeline.core.pictures import markdown


def test_table_escapes_every_cell_and_keeps_rows_on_one_line() -> None:
    df = pd.DataFrame({"name": ["<img src=x>", "a|b", "*bold* [x](y)", "new\nline"],
                       "n": [1, 2, 3, 4]})
    text = markdown.table(df)
    lines = text.splitlines()
    assert lines[0] == "| name | n |" and lines[1] == "|---|---|" and len(lines) == 6
    assert "&lt;img src=x&gt;" in text and "<img" not in text
    assert "a\\|b" in text and "\\*bold\\* \\[x\\](y)" in text and "new line" in text
    assert markdown.table(df, max_rows=2).endswith("_2 more rows in the file_")
    assert markdown.table(df.iloc[0:0]) == "_none_"


def test_png_image_inlines_the_bytes_with_an_escaped_alt() -> None:
    md = markdown.png_image(b"\x89PNG fake", "a [link](js) <b>\n")
    alt, data = md[2:].split("](data:image/png;base64,")
    assert alt == "a \\[link\\]\\(js\\) \\<b\\>"
    assert base64.b64decode(data.rstrip(")")) == b"\x89PNG fake"
