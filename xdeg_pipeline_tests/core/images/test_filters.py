"""The filter language over images' metadata: parsing, each operator, dates by year, aliases,
the JSON metadata column, and one-line errors."""

from __future__ import annotations

import json

import pytest

from xdeg_pipeline.core.images.filters import (
    FilterError,
    fields_of,
    parse_condition,
    parse_filter,
    search_text,
)

META = {
    "Title": "Still Life <b>with</b> Lemons",
    "Artist": "Willem Kalf",
    "Date": "c. 1650-1660",
    "collection": "Museum / Paintings",
    "Width": "512",
    "metadata": json.dumps({"Medium": "oil on canvas", "Provenance": ["Leiden", "Paris"]}),
}


def record(**changes: str) -> dict[str, str]:
    return fields_of("paintings/kalf.jpg", {**META, **changes})


def ok(text: str, rec: dict | None = None) -> bool:
    return parse_filter(text).matches(record() if rec is None else rec)


def test_fields_hold_columns_aliases_json_and_the_name() -> None:
    r = record()
    assert r["name"] == "paintings/kalf.jpg"
    assert r["label"] == r["title"] == "Still Life with Lemons"  # plain text, by alias
    assert r["creator"] == r["artist"] == "Willem Kalf"
    assert r["medium"] == "oil on canvas" and r["provenance"] == "Leiden; Paris"
    assert "metadata" not in r
    assert "oil on canvas" in search_text(r) and "Leiden; Paris" in search_text(r)
    listed = fields_of("x", {"metadata": json.dumps([{"label": "Genre", "value": "still life"}])})
    assert listed["genre"] == "still life"
    assert fields_of("x", {"metadata": "not json {"}) == {"name": "x"}


@pytest.mark.parametrize("text, expected", [
    ("creator=willem kalf", True), ("artist = WILLEM KALF", True), ("creator=Kalf", False),
    ("creator!=Kalf", True), ("creator!=willem kalf", False), ("creator~kalf", True),
    ("label~lemons", True), ("title~LEMONS", True), ("medium~canvas", True),
    ("collection=museum / paintings", True), ("collection~prints", False),
    ("date<1900", True), ("date<1650", False), ("date<=1650", True), ("date>=1650", True),
    ("date>1650", False), ("date > 1600 AND date < 1700", True), ("year<1700", True),
    ("width>500", True), ("width<=511", False), ("name~kalf", True), ("name=kalf", False),
    ("creator~kalf AND date>1700", False), ('label="Still Life with Lemons"', True),
    ("rights~cc", False), ("rights!=CC BY", True),  # a missing field matches only !=
])
def test_operators(text: str, expected: bool) -> None:
    assert ok(text) is expected


def test_dates_compare_their_first_year() -> None:
    assert ok("date<1900", record(Date="1899")) and not ok("date<1900", record(Date="1900"))
    assert ok("date>=1900", record(Date="1923-05-01"))
    assert ok("date<1000", record(Date="ca. 950 AD"))
    assert not ok("date<1900", record(Date="undated"))  # no year: outside a range
    assert ok("date<1900-12-31", record(Date="1899"))  # the value's year too


def test_several_texts_and_an_empty_filter() -> None:
    both = parse_filter(["date<1900", "creator~kalf AND medium~oil"])
    assert len(both.conditions) == 3 and both.matches(record())
    assert both.text == "date<1900 AND creator~kalf AND medium~oil"
    assert not parse_filter(None) and parse_filter([]).matches({})
    assert parse_condition("label ~ a=b").value == "a=b"  # the first operator splits


@pytest.mark.parametrize("text, says", [
    ("date 1900", "no operator"), ("<1900", "no field"), ("date<", "no value"),
    ("date<abc", "compares numbers"), ("creator>=Kalf", "compares numbers"),
])
def test_a_bad_filter_is_one_clear_line(text: str, says: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert says in str(err.value) and "\n" not in str(err.value)
