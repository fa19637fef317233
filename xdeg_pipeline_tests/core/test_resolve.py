"""Tests of name resolution: exact names, stems, ambiguity, suggestions, escapes."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from xdeg_pipeline.core.resolve import (
    AmbiguousName,
    NameNotFound,
    NameOutsideCollection,
    resolve_name,
)
from xdeg_pipeline_tests.helpers import faults

NAMES = [
    "animals/cat.png",
    "animals/dog.jpg",
    "animals/Dog.png",
    "birds/robin.png",
    "trees/oak.jpeg",
    "trees/more/oak.png",
    "Sunset.JPG",
    "a:b.png",
    "~tilde.png",
    "1f600.png",
    *faults.HOSTILE_NAMES,
    faults.NON_UTF8_NAME,
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("animals/cat.png", "animals/cat.png"),  # exact
        ("./animals//cat.png", "animals/cat.png"),  # normalised
        ("animals/cat", "animals/cat.png"),  # relative name without extension
        ("cat.png", "animals/cat.png"),  # file name
        ("cat", "animals/cat.png"),  # stem
        ("CAT", "animals/cat.png"),  # case-insensitive stem
        ("robin.PNG", "birds/robin.png"),  # case-insensitive file name
        ("sunset", "Sunset.JPG"),
        ("dog", "animals/dog.jpg"),  # case-sensitive stem wins over 'Dog.png'
        ("Dog", "animals/Dog.png"),
        ("dog.jpg", "animals/dog.jpg"),
        ("oak.png", "trees/more/oak.png"),  # the extension picks one of the two oaks
        ("more/oak", "trees/more/oak.png"),  # a trailing path
        ("TREES/OAK", "trees/oak.jpeg"),
        ("a:b.png", "a:b.png"),  # a colon is not a drive letter
        ("~tilde", "~tilde.png"),
        ("1f600", "1f600.png"),
        ("<script>alert(1)</script>", "names/<script>alert(1)</script>.png"),
        ("a \"quoted\" 'name'", "names/a \"quoted\" 'name'.png"),
        ("new\nline\ttab.png", "names/new\nline\ttab.png"),
        ("latin1_caf\\xe9", faults.NON_UTF8_NAME),
    ],
)
def test_resolves(query: str, expected: str):
    assert resolve_name(query, NAMES) == expected


def test_a_top_level_name_beats_deeper_ones():
    assert resolve_name("cat", ["cat.png", "animals/cat.png"]) == "cat.png"


def test_accepts_a_pandas_series():
    assert resolve_name("robin", pd.Series(NAMES)) == "birds/robin.png"


def test_ambiguous_stem_lists_candidates():
    with pytest.raises(AmbiguousName) as info:
        resolve_name("oak", NAMES)
    assert info.value.candidates == ["trees/more/oak.png", "trees/oak.jpeg"]
    assert "trees/oak.jpeg" in str(info.value) and "trees/more/oak.png" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_case_insensitive_ambiguity():
    with pytest.raises(AmbiguousName) as info:
        resolve_name("DOG", NAMES)
    assert info.value.candidates == ["animals/Dog.png", "animals/dog.jpg"]


def test_ambiguity_is_listed_even_when_long():
    names = [f"d{i}/same.png" for i in range(30)]
    with pytest.raises(AmbiguousName) as info:
        resolve_name("same", names)
    assert len(info.value.candidates) == 30 and "and 20 more" in str(info.value)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(NameNotFound) as info:
        resolve_name("robn", NAMES)
    assert info.value.suggestions[0] == "birds/robin.png"
    assert "birds/robin.png" in str(info.value)
    with pytest.raises(NameNotFound) as info:
        resolve_name("animals/cta.png", NAMES)
    assert "animals/cat.png" in info.value.suggestions


def test_suggestions_are_at_most_five_and_none_for_nonsense():
    names = [f"img_{i:03d}.png" for i in range(200)]
    with pytest.raises(NameNotFound) as info:
        resolve_name("img_1000", names)
    assert 1 <= len(info.value.suggestions) <= 5
    assert all(s.startswith("img_") for s in info.value.suggestions)
    with pytest.raises(NameNotFound) as info:
        resolve_name("qqqqqqqqqq", NAMES)
    assert info.value.suggestions == [] and "no similar name" in str(info.value)
    with pytest.raises(NameNotFound):
        resolve_name("", NAMES)
    with pytest.raises(NameNotFound):
        resolve_name("cat", [])


@pytest.mark.parametrize(
    "query",
    [
        "../secret.png",
        "animals/../../etc/passwd",
        "/etc/passwd",
        "/animals/cat.png",
        "..",
        "C:\\images\\cat.png",
        "c:/cat.png",
        "~/cat.png",
        "animals\\..\\..\\x.png",
    ],
)
def test_outside_the_collection_is_refused(query: str):
    with pytest.raises(NameOutsideCollection) as info:
        resolve_name(query, NAMES)
    assert isinstance(info.value, ValueError) and "inside the collection" in str(info.value)


def test_large_collection_resolves():
    """20,000 names (how long it takes: benchmarks.guards)."""
    names = [f"folder{i % 50}/img_{i:06d}.png" for i in range(20_000)]
    assert resolve_name("img_012345", names) == "folder45/img_012345.png"
    with pytest.raises(NameNotFound) as info:
        resolve_name("img_01234x", names)
    assert "folder34/img_001234.png" in info.value.suggestions or info.value.suggestions


class _Unread(Sequence):
    """Names that must not be read: resolving an exact name takes no pass over them."""

    def __getitem__(self, i):
        raise AssertionError("the names were read")

    def __len__(self) -> int:
        raise AssertionError("the names were read")


def test_an_exact_name_resolves_from_the_known_set_alone():
    known = set(NAMES)
    assert resolve_name("birds/robin.png", _Unread(), known=known) == "birds/robin.png"
    assert resolve_name("./birds//robin.png", _Unread(), known=known) == "birds/robin.png"
    assert resolve_name("robin", NAMES, known=known) == "birds/robin.png"  # other rules: names
