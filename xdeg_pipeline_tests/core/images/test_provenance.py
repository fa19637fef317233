"""Provenance records: the columns that say each fact, attributions reduced to text, links
http/https only, the short credits of a chain."""

from __future__ import annotations

import json

import pytest

from xdeg_pipeline.core.images.provenance import (
    PROVENANCE_KEYS,
    alias_key,
    credit_text,
    credits_line,
    empty_record,
    metadata_pairs,
    plain_text,
    provenance,
    rights_label,
    web_link,
)


def test_aliases_loose_names_and_best_first() -> None:
    record = provenance({
        "Object Title": "The Lovers", "Artist_Name": "René Magritte", "YEAR": "1928",
        "Credit-Line": "Gift of A. Donor", "License": "https://creativecommons.org/licenses/by/4.0/",
        "Homepage": "https://museum.example/objects/58", "IIIF Manifest": "https://x.example/m.json",
    })
    assert record == {
        "label": "The Lovers", "creator": "René Magritte", "date": "1928",
        "credit": "Gift of A. Donor", "rights": "https://creativecommons.org/licenses/by/4.0/",
        "link": "https://museum.example/objects/58", "manifest": "https://x.example/m.json",
    }
    # "label" wins over "title"; an empty column does not hide the next alias
    assert provenance({"title": "T", "label": "L"})["label"] == "L"
    assert provenance({"label": "  ", "title": "T"})["label"] == "T"
    assert provenance({}) == dict.fromkeys(PROVENANCE_KEYS)
    assert alias_key("Required Statement") == "credit" and alias_key("Style") is None


def test_html_attribution_becomes_text() -> None:
    hostile = ('<script>window.__xss=1</script>Courtesy of <b>the&nbsp;Museum</b><br>'
               '<img src=x onerror=alert(1)> &amp; friends<style>p{}</style>')
    assert plain_text(hostile) == "Courtesy of the Museum & friends"
    assert "<" not in plain_text(hostile) and "xss" not in plain_text(hostile)
    # an escaped script is text that says "<script>": kept, to be shown (escaped) as such
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; Anonymous"
    assert provenance({"credit": escaped})["credit"] == "<script>alert(1)</script> Anonymous"
    assert plain_text("A < B and C > D") == "A < B and C > D"


@pytest.mark.parametrize("value", [
    "javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<script>x</script>",
    "vbscript:x", "file:///etc/passwd", "//evil.example/x", "/relative/page", "http://",
    "https://ok.example/a b", "https://ok.example/\x00", "mailto:a@b.c", "",
])
def test_only_http_links(value: str) -> None:
    assert web_link(value) is None
    record = provenance({"link": value, "manifest": value})
    assert record["link"] is None and record["manifest"] is None


def test_links_and_rights() -> None:
    assert web_link(" https://museum.example/o/1?x=1#a ") == "https://museum.example/o/1?x=1#a"
    assert web_link("HTTP://museum.example") == "HTTP://museum.example"
    # a licence phrase stays text, a javascript: licence is dropped as a link but not as text
    assert provenance({"rights": "CC BY 4.0"})["rights"] == "CC BY 4.0"
    assert provenance({"rights": "<a href='javascript:x'>All rights</a>"})["rights"] == \
        "All rights"
    assert rights_label("https://creativecommons.org/licenses/by-sa/4.0/") == "CC BY-SA 4.0"
    assert rights_label("http://creativecommons.org/publicdomain/zero/1.0/") == "CC0 1.0"
    assert rights_label("https://creativecommons.org/publicdomain/mark/1.0/") == \
        "Public Domain Mark 1.0"
    assert rights_label("http://rightsstatements.org/vocab/InC/1.0/") == "InC"
    assert rights_label("https://museum.example/terms") == "https://museum.example/terms"
    assert rights_label(None) is None


def test_iiif_metadata_pairs_fill_what_columns_do_not_say() -> None:
    pairs = [
        {"label": {"en": ["Artist"]}, "value": {"none": ["Hokusai"]}},
        {"label": "Date", "value": ["1831", "1833"]},
        {"label": "Title", "value": "ignored: the label column says it"},
        {"label": "", "value": "no label"}, "junk", ["Medium", "woodblock print"],
    ]
    meta = {"label": "The Great Wave", "metadata": json.dumps(pairs)}
    record = provenance(meta)
    assert (record["label"], record["creator"], record["date"]) == \
        ("The Great Wave", "Hokusai", "1831; 1833")
    assert dict(metadata_pairs(json.dumps({"Creator": "X"}))) == {"Creator": "X"}
    assert list(metadata_pairs("{not json")) == [] and list(metadata_pairs(None)) == []
    assert ("Medium", "woodblock print") in list(metadata_pairs(meta["metadata"]))


def test_credits_of_a_chain() -> None:
    a = {"label": "Sea", "credit": "Gift of A", "rights": "https://creativecommons.org/licenses/by/4.0/"}
    b = {"label": "Sky", "credit": None, "rights": None}
    c = {"label": "Sun", "credit": "Museum X", "rights": "InC"}
    assert credit_text(a) == "Gift of A (CC BY 4.0)"
    assert credits_line([a, b, c]) == \
        "Credits: 1 Sea — Gift of A (CC BY 4.0); 3 Sun — Museum X (InC)"
    assert credits_line([b, None]) is None
    assert credits_line([a, dict(a, label="Sea 2")]) == "Credits: all images: Gift of A (CC BY 4.0)"
    # what the collection's attribution already says is not repeated
    emoji = empty_record("grinning face", credit="All emojis designed by OpenMoji",
                         rights="https://creativecommons.org/licenses/by-sa/4.0/")
    assert credits_line([emoji, emoji], known="All emojis designed by OpenMoji (CC BY-SA 4.0: "
                        "https://creativecommons.org/licenses/by-sa/4.0/)") is None
