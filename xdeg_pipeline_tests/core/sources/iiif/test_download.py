"""A IIIF source through the URL manifest's downloader: the body's own URL when the Image API
request fails, nothing requested again on a re-run, failures as rejections with the canvas."""

from __future__ import annotations

from pathlib import Path

import pytest

from xdeg_pipeline.core.sources.iiif import download_iiif
from xdeg_pipeline_tests.helpers.collections import make_image
from xdeg_pipeline_tests.helpers.iiif_server import IIIFServer


def _canvas(url: str, i: int, service: dict, direct: str) -> dict:
    body = {"id": direct, "type": "Image", "service": [service]}
    return {"id": f"{url}/c{i}", "type": "Canvas", "items": [{"type": "AnnotationPage", "items": [
        {"type": "Annotation", "motivation": "painting", "body": body}]}]}


def test_fallback_pass_and_a_rerun_without_requests(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("a", "b", "c"):
        make_image(tmp_path / "px" / f"{name}.png", seed=ord(name), size=64)
    with IIIFServer(tmp_path / "px") as server:
        url = server.doc_url("m.json")
        v3 = {"id": server.service("a", "3.0"), "type": "ImageService3", "profile": "level1"}
        down = {"id": server.service("b", "3.0"), "type": "ImageService3", "profile": "level1"}
        server.failing.add("b")  # its service answers 500, its own URL is another picture
        gone = {"@id": server.service("zz"), "@type": "ImageService2", "profile": "level2"}
        server.docs["m.json"] = {"id": url, "type": "Manifest", "label": {"en": ["Thing"]},
                                 "items": [
            _canvas(url, 0, v3, f"{server.service('a', '3.0')}/full/max/0/default.jpg"),
            _canvas(url, 1, down, f"{server.service('c')}/full/full/0/default.jpg"),
            _canvas(url, 2, gone, f"{server.service('zz')}/full/full/0/default.jpg")]}

        def run(**kwargs: object):
            return download_iiif(url, tmp_path / "cache", tmp_path / "cache" / "failures.json",
                                 tmp_path / "docs", retries=0, **kwargs)

        first = run()
        rows = first.download.rows.set_index("canvas")
        # no size given: the v3 reference server refuses !512,512 above the image: own URL
        assert rows.loc[f"{url}/c0", "url"].endswith("/3.0/a/full/max/0/default.jpg")
        assert rows.loc[f"{url}/c1", "url"].endswith("/2.1/c/full/full/0/default.jpg")
        assert list(rows["name"]) == ["Thing - 1.jpg", "Thing - 2.jpg"]
        (rejected,) = first.download.rejected.to_dict("records")
        assert rejected["reason"] == "http_404" and f"canvas {url}/c2" in rejected["detail"]
        assert "its own URL failed too" in rejected["detail"]
        assert first.download.metadata_columns[:3] == ["label", "creator", "date"]
        before = sum(server.image_requests().values())
        again = run()
        assert sum(server.image_requests().values()) == before  # cache, failure memory
        assert list(again.download.rows["url"]) == list(first.download.rows["url"])
        assert again.documents_not_modified == 1
        assert len(run(first_only=True).download.rows) == 1


def test_an_unreadable_source_is_an_error(tmp_path: Path) -> None:
    from xdeg_pipeline.core.sources.iiif import DocumentError

    with pytest.raises(DocumentError):
        download_iiif(str(tmp_path / "none.json"), tmp_path / "c", tmp_path / "f.json", None)


def test_the_test_server_leaves_no_files_behind(tmp_path: Path, monkeypatch) -> None:
    """The reference implementation writes every answer to a temporary file it never removes;
    the helper's server keeps them in its own folder and removes it when it stops."""
    import tempfile
    import urllib.request

    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    make_image(tmp_path / "px" / "a.png", seed=1, size=64)
    with IIIFServer(tmp_path / "px") as server:
        for version in ("2.1", "3.0"):
            size = "full" if version == "2.1" else "max"
            url = f"{server.service('a', version)}/full/{size}/0/default.jpg"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.read(3) == b"\xff\xd8\xff"  # a JPEG
        assert len(list(system_tmp.rglob("*"))) == 3  # the server's folder, its two answers
    assert list(system_tmp.iterdir()) == []
