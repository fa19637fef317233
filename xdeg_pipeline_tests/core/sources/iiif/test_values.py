"""Tolerant IIIF values: ids and types spelled both ways, text in the user's language."""

from __future__ import annotations

import pytest

from xdeg_pipeline.core.sources.iiif.values import as_list, first_link, ident, kind, text


def test_ids_and_types_both_ways() -> None:
    assert ident({"@id": " https://a/1 "}) == "https://a/1" == ident({"id": "https://a/1"})
    assert ident("https://a/2") == "https://a/2" and ident({"id": 3}) is None
    assert ident(None) is None
    assert kind({"@type": "sc:Manifest"}) == kind({"type": "Manifest"}) == "manifest"
    assert kind({"@type": ["oa:Annotation", "x"]}) == "annotation" and kind("x") == ""
    assert as_list(None) == [] and as_list({"a": 1}) == [{"a": 1}] and as_list([1]) == [1]


@pytest.mark.parametrize("value, language, expected", [
    ("Plain", "en", "Plain"),
    ({"en": ["Wave"], "ja": ["波"]}, "ja", "波"),
    ({"en-GB": ["Colour"], "fr": ["Couleur"]}, "en", "Colour"),  # a regional variant
    ({"fr": ["Tableau"], "none": ["Painting 3"]}, "en", "Painting 3"),  # then no language
    ({"fr": ["Tableau"], "de": ["Gemälde"]}, "en", "Tableau"),  # then the first given
    ({"none": ["a", "b", "a"]}, "en", "a; b"),
    ([{"@value": "français", "@language": "fr"}, {"@value": "French", "@language": "en"}], "en",
     "French"),
    (["Latin", "Anglo-Norman"], "en", "Latin; Anglo-Norman"),
    (1873, "en", "1873"),
    (None, "en", ""),
    ({"en": []}, "en", ""),
])
def test_text_in_the_users_language(value: object, language: str, expected: str) -> None:
    assert text(value, language) == expected


def test_first_link_is_http_only() -> None:
    assert first_link([{"id": "mailto:x"}, {"@id": "https://m/o"}]) == "https://m/o"
    assert first_link("javascript:alert(1)") is None and first_link(None) is None
