"""A chain as one HTML page: self-contained, escaped, each picture credited and linked to its
object page (http/https only)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from xdeg_pipeline.core.pictures.page import path_html
from xdeg_pipeline_tests.helpers.pictures import HOSTILE, sample_images


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return sample_images(tmp_path / "src")


def test_html_is_self_contained_and_escaped(images: list[Path], tmp_path: Path) -> None:
    paths = (images * 2)[: len(HOSTILE)]
    meta = [{"hash": f"<i>{i}</i>", "<k>": label} for i, label in enumerate(HOSTILE)]
    out = path_html(
        paths,
        HOSTILE,
        tmp_path / "p.html",
        title="<script>alert('t')</script>",
        steps=[0.25] * (len(HOSTILE) - 1),
        attribution="<a href='http://evil'>OpenMoji</a> & co",
        meta=meta,
        thumb=32,
    )
    page = out.read_bytes().decode("utf-8")  # valid UTF-8 despite surrogates in labels
    low = page.lower()
    assert "<script" not in low and "<a " not in low and "<b>" not in low and "<i>" not in low
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page
    assert "&lt;a href=&#x27;http://evil&#x27;&gt;OpenMoji&lt;/a&gt; &amp; co" in page
    assert "&lt;k&gt;" in page and "&lt;i&gt;0&lt;/i&gt;" in page
    assert "\u202e" not in page and "\x00" not in page
    assert not re.search(r"""<[^>]*\b(src|href)\s*=\s*(?!"data:)""", page)  # only data URIs
    assert "<link" not in low and "@import" not in low and "url(" not in low
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == len(HOSTILE) == page.count("<img ")
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
            assert im.format == "PNG" and im.size == (32, 32)
    assert page.count('class="step"') == len(HOSTILE) - 1


def test_html_checks_lengths(images: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        path_html(images[:2], ["a", "b"], tmp_path / "p.html", title="t", meta=[{}])
    page = path_html(images[:1], ["only"], tmp_path / "p.html", title="t").read_text()
    assert page.count("<img ") == 1 and 'class="step"' not in page


def test_html_credits_and_links_each_picture(images: list[Path], tmp_path: Path) -> None:
    records = [
        {"label": "Sea", "link": "https://museum.example/o/1?a=1&b=2", "credit":
         "<script>alert(1)</script> Gift of A & B", "rights":
         "https://creativecommons.org/licenses/by/4.0/"},
        {"label": "Sky", "link": "javascript:alert(1)", "credit": None, "rights": "All rights"},
        None,
    ]
    page = path_html(images[:3], ["<i>Sea</i>", "Sky", "Sun"], tmp_path / "p.html", title="t",
                     provenance=records, attribution="Collection: Museum").read_text()
    low = page.lower()
    assert "<script" not in low and "javascript:" not in low and "<i>" not in low
    assert page.count('<a href="https://museum.example/o/1?a=1&amp;b=2" target="_blank" '
                      'rel="noopener">') == 2  # the picture and its label
    assert '<p class="credit">&lt;script&gt;alert(1)&lt;/script&gt; Gift of A &amp; B</p>' in page
    assert ('<a href="https://creativecommons.org/licenses/by/4.0/" target="_blank" '
            'rel="noopener">CC BY 4.0</a>') in page
    assert '<p class="rights">All rights</p>' in page  # a phrase: text, no link
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    # what the footer (the collection's attribution) says is not repeated under each picture
    same = [{"label": "x", "credit": "Collection: Museum", "rights": None}] * 3
    again = path_html(images[:3], ["a", "b", "c"], tmp_path / "q.html", title="t",
                      provenance=same, attribution="Collection: Museum").read_text()
    assert 'class="credit"' not in again and again.count("Collection: Museum") == 1
    with pytest.raises(ValueError):
        path_html(images[:2], ["a", "b"], tmp_path / "r.html", title="t", provenance=[None])
