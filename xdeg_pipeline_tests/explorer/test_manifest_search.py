"""A URL manifest's collection in the explorer's API (built once from a CSV served locally):
search covers its metadata, and every image of a chain carries where it comes from."""

from __future__ import annotations

from starlette.testclient import TestClient

from xdeg_pipeline.core.images.provenance import PROVENANCE_KEYS
from xdeg_pipeline.explorer.app import create_app
from xdeg_pipeline_tests.helpers.credited_home import CC_BY


def test_search_finds_manifest_metadata(credited_home: dict) -> None:
    with TestClient(create_app(credited_home["home"], credited_home["images"]),
                    base_url="http://localhost:8765") as client:
        klee = client.get("/api/images", params={"q": "paul klee"}).json()["images"]
        assert len(klee) == 4
        assert {i["caption"] for i in klee} == {f"Painting {i} — Paul Klee" for i in (1, 4, 7, 10)}
        by_year = client.get("/api/images", params={"q": "1905"}).json()["images"]
        assert [i["caption"] for i in by_year] == ["Painting 5 — Sonia Delaunay"]
        by_style = client.get("/api/images", params={"q": "bauhaus"}).json()["images"]
        assert [i["caption"] for i in by_style] == ["Painting 4 — Paul Klee"]
        a, b = klee[0]["name"], by_year[0]["name"]
        chain = client.get("/api/path", params={"source": a, "target": b}).json()["chains"][0]
        assert chain["path"][0] == a and chain["path"][-1] == b


def test_path_images_carry_provenance(credited_home: dict) -> None:
    expected = credited_home["expected"]
    with TestClient(create_app(credited_home["home"], credited_home["images"]),
                    base_url="http://localhost:8765") as client:
        body = client.get("/api/path", params={"source": "art00", "target": "art03",
                                               "mode": "steps", "steps": "3"}).json()
    chain = body["chains"][0]
    assert chain["path"][0] == "art00.png" and len(chain["path"]) == 5
    assert set(body["images"]) == set(chain["path"])
    for name in chain["path"]:
        entry = body["images"][name]
        assert {k: entry[k] for k in PROVENANCE_KEYS} == expected[name]
        assert entry["caption"] == f"{expected[name]['label']} — {expected[name]['creator']}"
        assert entry["rights_label"] == ("CC BY 4.0" if entry["rights"] == CC_BY
                                         else "In copyright")
        assert chain["images"][name] == expected[name]  # what `xdeg path --json` prints
    assert body["images"]["art00.png"]["credit"] == "Gift of Ada"  # the script tag dropped
