"""The reader on trimmed copies of real publishers' manifest shapes (Bodleian and Gallica v2,
Internet Archive and Library of Congress v3), a local v2.1 paged collection with relative
references, and documents by URL with conditional GETs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xdeg_pipeline.core.images.provenance import provenance
from xdeg_pipeline.core.sources.iiif import DocumentError, Documents, Reader
from xdeg_pipeline.core.sources.iiif.signature import collection_signature
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline_tests.helpers.iiif_server import IIIFServer

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "iiif"
OPTIONS = FetchOptions(timeout=2, total_timeout=5, retries=0)


def _read(name: str, **kwargs: object):
    return Reader(Documents(None, OPTIONS), **kwargs).read(str(FIXTURES / name))


def _row(name: str, **kwargs: object) -> dict[str, str]:
    return _read(name, **kwargs).rows[0]


def test_bodleian_v2() -> None:
    walk = _read("bodleian_v2.json")
    assert len(walk.rows) == 2 and not walk.problems
    row = walk.rows[0]
    assert row["url"] == ("https://iiif.bodleian.ox.ac.uk/iiif/image/1a2b3c4d-0001/full/!512,512/"
                          "0/default.jpg")
    assert row["fallback"].endswith("/1a2b3c4d-0001/full/full/0/default.jpg")
    assert row["id"] == "Bodleian Library MS. Douce 366 - Upper board outside"
    assert row["date"] == "c. 1310-1325" and row["creator"] == ""
    assert row["link"] == ("https://digital.bodleian.ox.ac.uk/objects/748a9d50-5a3a-440e-ab9d-"
                           "567dd68b6abb/")
    assert json.loads(row["metadata"])["Language"] == "Latin; Anglo-Norman"
    record = provenance(row)
    assert record["credit"].startswith("Photo: © Bodleian Libraries") and "<" not in \
        record["credit"]
    assert record["manifest"].endswith("748a9d50-5a3a-440e-ab9d-567dd68b6abb.json")
    first = _read("bodleian_v2.json", first_only=True)
    assert len(first.rows) == 1 and first.rows[0]["id"] == "Bodleian Library MS. Douce 366"


def test_gallica_v2() -> None:
    row = _row("gallica_v2.json")
    assert row["url"] == ("https://gallica.bnf.fr/iiif/ark:/12148/btv1b84539771/f1/full/!512,512/"
                          "0/default.jpg")
    assert (row["creator"], row["date"]) == ("Monet, Claude (1840-1926). Graveur", "1873")
    assert row["credit"] == "Bibliothèque nationale de France"
    assert row["rights"] == "https://gallica.bnf.fr/html/conditions-dutilisation-de-gallica"
    assert row["link"] == "https://gallica.bnf.fr/ark:/12148/btv1b84539771"
    assert json.loads(row["metadata"])["Language"] == "French"
    assert json.loads(_row("gallica_v2.json", language="fr")["metadata"])["Language"] == \
        "français"


def test_internet_archive_v3_with_a_v2_service() -> None:
    walk = _read("internet_archive_v3.json")
    row = walk.rows[1]
    assert row["url"] == ("https://iiif.archive.org/iiif/artofillumination00bell$1/full/!512,512/"
                          "0/default.jpg")
    assert row["id"] == "The art of illumination - Title page"
    assert (row["creator"], row["date"]) == ("Bradley, John William, 1830-1916", "1897")
    assert row["link"] == "https://archive.org/details/artofillumination00bell"
    assert row["rights"] == "https://creativecommons.org/publicdomain/mark/1.0/"
    assert row["canvas"] == "https://iiif.archive.org/iiif/3/artofillumination00bell$1/canvas"


def test_library_of_congress_v3_languages() -> None:
    row = _row("loc_v3.json")
    assert row["label"] == "The great wave off Kanagawa"
    assert _row("loc_v3.json", language="ja")["label"] == "神奈川沖浪裏"
    assert row["creator"] == "Katsushika, Hokusai, 1760-1849, artist"
    assert row["date"] == "[between 1830 and 1832]"
    assert row["credit"] == "Rights Advisory: No known restrictions on publication."
    assert row["rights"] == "http://rightsstatements.org/vocab/NKC/1.0/"
    assert row["url"] == ("https://tile.loc.gov/image-services/iiif/service:pnp:jpd:02000:02018v/"
                          "full/!512,512/0/default.jpg")


def test_a_local_paged_collection_with_relative_references() -> None:
    walk = _read("paged_v2.json", first_only=True)
    assert [r["label"] for r in walk.rows] == [
        "Bodleian Library MS. Douce 366", "Impression, soleil levant : [estampe] / Claude Monet",
        "The great wave off Kanagawa", "The art of illumination"]
    assert walk.rows[2]["collection"] == "Library / Prints and books"
    assert walk.rows[0]["collection"] == "Library"
    assert [(p["reason"], Path(p["url"]).name) for p in walk.problems] == \
        [("unreadable", "missing.json")]
    assert walk.collections == 2 and walk.manifests == 5


def test_odd_shapes_are_problems_not_exceptions(tmp_path: Path) -> None:
    odd = [{"type": "Manifest", "items": [{"type": "Canvas", "items": "x"}]},
           {"type": "Manifest", "items": [{"type": "Canvas", "items": [{"items": [
               {"body": {"id": 5, "service": "nope"}}]}]}]},
           {"@type": "sc:Manifest", "sequences": [{"canvases": [{"images": [
               {"resource": ["https://i/a.jpg"]}]}]}]},
           {"@type": "sc:Manifest", "label": {"en": 3}, "metadata": "x", "sequences": "y"}]
    refs = []
    for i, doc in enumerate(odd):
        (tmp_path / f"m{i}.json").write_text(json.dumps(doc))
        refs.append({"id": f"m{i}.json", "type": "Manifest"})
    (tmp_path / "c.json").write_text(json.dumps({"type": "Collection", "items": refs}))
    walk = _read(str(tmp_path / "c.json"))
    assert [r["url"] for r in walk.rows] == ["https://i/a.jpg"]  # a bare URL as the resource
    assert [p["reason"] for p in walk.problems] == ["no_image", "no_image", "no_canvas"]


def test_an_unreadable_source_raises_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DocumentError, match="invalid_json"):
        _read(str(tmp_path / "bad.json"))
    with pytest.raises(DocumentError, match="unreadable"):
        _read(str(tmp_path / "nope.json"))


def test_documents_by_url_are_asked_again_conditionally(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with IIIFServer(tmp_path) as server:
        server.docs["m.json"] = json.loads((FIXTURES / "loc_v3.json").read_text())
        server.docs["c.json"] = {"id": server.doc_url("c.json"), "type": "Collection",
                                 "items": [{"id": server.doc_url("m.json"), "type": "Manifest"}]}
        docs = Documents(tmp_path / "docs", OPTIONS)
        assert len(Reader(docs).read(server.doc_url("c.json")).rows) == 1
        docs.save()
        again = Documents(tmp_path / "docs", OPTIONS)
        assert len(Reader(again).read(server.doc_url("c.json")).rows) == 1
        assert (docs.fetched, again.fetched, again.not_modified) == (2, 0, 2)
        signature = collection_signature(server.doc_url("c.json"), OPTIONS)
        assert signature[1] == 1
        assert collection_signature(server.doc_url("c.json"), OPTIONS) == signature
        server.docs["c.json"]["items"].append({"id": server.doc_url("n.json"), "type": "Manifest"})
        assert collection_signature(server.doc_url("c.json"), OPTIONS)[1] == 2
        walk = Reader(Documents(None, OPTIONS)).read(server.doc_url("c.json"))
        assert [p["reason"] for p in walk.problems] == ["http_404"]
