"""Metadata search and filters in the explorer's API: /api/images searches every metadata
value and takes ``where``; /api/filter lists what a filter lets through; /api/path keeps a chain
inside its filter (400 for a bad filter or an end outside it, 422 when no chain stays inside)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from xdeg_pipeline.core.images.filters import fields_of, parse_filter
from xdeg_pipeline.explorer.app import create_app
from xdeg_pipeline_tests.helpers.metadata_home import LONELY, year_of


@pytest.fixture(scope="module")
def client(metadata_home: dict) -> TestClient:
    with TestClient(create_app(metadata_home["home"], metadata_home["images"]),
                    base_url="http://localhost:8765") as c:
        yield c


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["name"] for i in response.json()["images"]]


def test_search_covers_labels_creators_dates_and_json_metadata(client: TestClient,
                                                               metadata_home: dict) -> None:
    all_names = metadata_home["names"]
    assert names(client.get("/api/images", params={"q": "work 007"}))[0] == all_names[7]
    assert names(client.get("/api/images", params={"q": "inv 0042"})) == [all_names[42]]
    klint = names(client.get("/api/images", params={"q": "hilma klint", "limit": 500}))
    assert len(klint) == sum(1 for i in range(len(all_names)) if i % 3 == 1) - sum(
        1 for n in metadata_home["lonely"] if all_names.index(n) % 3 == 1)
    year = year_of(11)
    assert all_names[11] in names(client.get("/api/images", params={"q": str(year)}))
    etchings = names(client.get("/api/images", params={"q": "etching", "limit": 500}))
    assert len(etchings) == (len(all_names) + 1) // 2


def test_images_and_filter_take_where(client: TestClient, metadata_home: dict) -> None:
    rows = metadata_home["rows"]
    expected = {r["name"] for i, r in enumerate(rows) if year_of(i) < 1700 and i % 2}
    params = [("where", "date<1700"), ("where", "collection=Museum / Paintings"),
              ("limit", "500")]
    got = client.get("/api/images", params=params)
    assert set(names(got)) == expected and got.json()["total"] == len(expected)
    both = client.get("/api/images", params=[*params, ("q", "klee")])
    assert set(names(both)) == {r["name"] for r in rows
                                if r["name"] in expected and r["creator"] == "Paul Klee"}
    f = client.get("/api/filter", params=params[:2]).json()
    assert f["images"] == len(expected) and f["total"] == len(rows)
    assert f["filter"] == "date<1700 AND collection=Museum / Paintings"
    assert len(f["hashes"]) == len(expected)
    assert f["fields"][:5] == ["name", "label", "creator", "date", "link"]
    assert {"collection", "medium", "inventory"} <= set(f["fields"])
    for url in ("/api/images", "/api/filter"):
        bad = client.get(url, params={"where": "date<soon"})
        assert bad.status_code == 400 and bad.json()["parameter"] == "where"
        assert "compares numbers" in bad.json()["error"]


def test_a_chain_asked_inside_a_filter_stays_inside(client: TestClient,
                                                    metadata_home: dict) -> None:
    rows = {r["name"]: r for r in metadata_home["rows"]}
    where = ["date<1900", "creator!=Paul Klee"]
    parsed = parse_filter(where)
    inside = sorted(n for n, r in rows.items()
                    if parsed.matches(fields_of(n, {k: v for k, v in r.items() if k != "name"})))
    for a, b in ((inside[0], inside[-1]), (inside[3], inside[40]), (inside[9], inside[20])):
        r = client.get("/api/path", params=[("source", a), ("target", b), ("alternatives", "2"),
                                            *(("where", w) for w in where)])
        assert r.status_code == 200, r.text
        for chain in r.json()["chains"]:
            assert chain["where"] == where and chain["path"][0] == a
            assert set(chain["path"]) <= set(inside), chain["path"]


def test_path_errors_of_a_filter(client: TestClient, metadata_home: dict) -> None:
    a, b = metadata_home["lonely"]
    none = client.get("/api/path", params={"source": a, "target": b,
                                           "where": f"creator={LONELY}"})
    assert none.status_code == 422
    assert none.json()["error"].startswith("no chain") and "inside the filter" in none.json()[
        "error"]
    bad = client.get("/api/path", params={"source": a, "target": b, "where": "creator"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "where"
    unknown = client.get("/api/path", params={"source": a, "target": b, "where": "dat<1900"})
    assert unknown.status_code == 400 and "no image has the field" in unknown.json()["error"]
    late = next(n for i, n in enumerate(metadata_home["names"]) if year_of(i) >= 1900)
    outside = client.get("/api/path", params={"source": a, "target": late, "where": "date<1900"})
    assert outside.status_code == 400 and outside.json()["parameter"] == "target"
    assert outside.json()["name"] == late
