"""Downloads of a URL manifest against a real local HTTP server (127.0.0.1, ephemeral port)
that serves images and every failure a collection on the web can show."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from xdeg_pipeline.core.images.scan import scan_collection
from xdeg_pipeline.core.sources import remote
from xdeg_pipeline.core.sources.remote.names import safe_file_name
from xdeg_pipeline_tests.helpers.image_server import PNG_MAGIC, ImageServer, image_bytes

FAILURES = "failures.json"  # the record of failed URLs, kept in the cache folder here


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with ImageServer() as srv:
        yield srv


FAST = dict(timeout=1.0, total_timeout=2.0, retries=1, backoff=0.05, max_redirects=3,
            max_bytes=300_000)


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ----------------------------------------------------------------------------- manifest table


def test_load_manifest_csv_and_tsv(tmp_path: Path) -> None:
    csv_file = tmp_path / "museum.csv"
    csv_file.write_text(
        'ID,Title,Artist,URL\n1,"Still life, with pears","Doe, J.",http://x.org/a.jpg\n'
        "2,Sea,Roe,http://x.org/b.jpg\n",
        encoding="utf-8",
    )
    df = remote.load_manifest_table(csv_file)
    assert list(df.columns) == ["ID", "Title", "Artist", "URL"]
    assert df["Title"].tolist() == ["Still life, with pears", "Sea"]
    assert remote.find_url_column(df) == "URL"

    # WikiArt-like TSV: BOM, cp1252 bytes, a stray quote that must not swallow rows
    tsv = tmp_path / "WikiArt-info.txt"
    text = ("\ufeffID\tStyle\tArtist\tTitle\tYear\tImage URL\tPainting Info URL\n"
            '58c1\tModern Art\tRen\u00e9 Magritte\t"The Lovers\t1928\thttp://x.org/l.jpg\tp\n'
            '58c2\tModern Art\tEgon Schiele\t"Self-Portrait"\t1912\thttp://x.org/s.jpg\tq\n')
    tsv.write_bytes(text.encode("utf-8-sig")[:3] + text[1:].encode("cp1252"))
    df = remote.load_manifest_table(tsv)
    assert len(df) == 2 and df.columns[0] == "ID"
    assert df["Artist"].tolist() == ["Ren\u00e9 Magritte", "Egon Schiele"]
    assert df["Title"].tolist() == ['"The Lovers', "Self-Portrait"]
    assert remote.find_url_column(df) == "Image URL"
    assert remote.find_url_column(df, "image url") == "Image URL"
    assert remote.find_url_column(df, "Painting Info URL") == "Painting Info URL"
    with pytest.raises(KeyError, match="columns"):
        remote.find_url_column(df[["ID", "Title"]])
    with pytest.raises(KeyError, match="nope"):
        remote.find_url_column(df, "nope")


def test_names_ids_url_segments_and_dedupe() -> None:
    df = pd.DataFrame({"url": ["http://h/a/Starry%20Night.jpg", "http://h/b/Starry%20Night.jpg",
                               "http://h/x/../", "http://h/img?id=3"]})
    assert remote.base_names(df, "url") == ["Starry Night.jpg", "Starry Night_2.jpg", "image",
                                            "img"]
    with_ids = df.assign(Id=["q1", "", "q/3", ".hidden"])
    names = remote.base_names(with_ids, "url")
    assert names[0] == "q1" and names[2] == "q_3" and names[3] == "hidden"
    assert names[1] == "Starry Night.jpg"  # empty id: the URL's last segment
    assert remote.dedupe_names(["a.png", "A.PNG", "a.png"]) == ["a.png", "A_2.PNG", "a_3.png"]
    assert remote.name_with_format("q1", "JPEG") == "q1.jpg"
    assert remote.name_with_format("x.JPEG", "JPEG") == "x.JPEG"
    assert remote.name_with_format("x.jpg", "PNG") == "x.jpg.png"
    assert "/" not in safe_file_name("../../etc/passwd")
    assert not safe_file_name("..\x00x").startswith(".")


def test_normalise_url_and_schemes() -> None:
    assert (remote.normalise_url(" https://H.org/a b/\u00e9.jpg?q=1 2#frag ")
            == "https://h.org/a%20b/%C3%A9.jpg?q=1%202")
    assert remote.normalise_url("http://x.org/a%20b.jpg") == "http://x.org/a%20b.jpg"
    for url, reason in [("ftp://x.org/a.jpg", "bad_scheme"), ("file:///etc/passwd", "bad_scheme"),
                        ("data:image/png;base64,AAAA", "bad_scheme"), ("x.org/a.jpg", "bad_scheme"),
                        ("", "missing_url"), ("http:///a.jpg", "bad_url"),
                        ("http://x.org:99999/a.jpg", "bad_url")]:
        with pytest.raises(remote.DownloadError) as info:
            remote.normalise_url(url)
        assert info.value.reason == reason, url
    assert remote.url_key("http://x.org/a b.jpg") == hashlib.sha256(
        b"http://x.org/a%20b.jpg").hexdigest()


# ----------------------------------------------------------------------------- downloads


def test_every_failure_case_is_a_rejected_row(server: ImageServer, tmp_path: Path) -> None:
    png, jpg = image_bytes(1), image_bytes(2, "JPEG")
    html = b"<!DOCTYPE html><html><body>Image not found</body></html>"
    cases = {
        "ok_png": (server.image("/img/ok.png", png), "ok"),
        "ok_jpeg": (server.image("/img/photo", jpg, "application/octet-stream"), "ok"),
        "wrong_type_header": (server.image("/img/typed.png", image_bytes(3), "text/plain"), "ok"),
        "flaky": (server.flaky("/flaky.png", image_bytes(4)), "ok"),
        "redirect": (server.redirect("/old.png", "/img/moved.png"), "ok"),
        "missing": (server.status("/missing.png", 404), "http_404"),
        "forbidden": (server.status("/forbidden.png", 403), "http_403"),
        "broken": (server.status("/broken.png", 500), "http_500"),
        "slow": (server.slow("/slow.png", png, delay=3.0), "timeout"),
        "drip": (server.stream("/drip.png", 100_000, chunk=50, interval=0.1), "timeout"),
        "loop": (server.redirect("/loop-a", "/loop-b"), "too_many_redirects"),
        "big": (server.stream("/big.png", 50 * 2**20), "too_large"),
        "big_unsized": (server.stream("/big-unsized.png", 20 * 2**20, declare=False),
                        "too_large"),
        "html": (server.image("/painting.jpg", html, "text/html; charset=utf-8"), "not_an_image"),
        # decode failures keep core.images' reason (truncated or corrupt for this one)
        "fake_png": (server.image("/fake.png", PNG_MAGIC + b"garbage" * 100), "undecodable"),
        "cut": (server.truncated("/cut.png", image_bytes(5, size=256)), "connection_error"),
        "to_file": (server.redirect("/to-file.png", "file:///etc/passwd"), "bad_scheme"),
        "ftp": ("ftp://127.0.0.1/a.png", "bad_scheme"),
        "file": ("file:///etc/hosts", "bad_scheme"),
        "blank": ("", "missing_url"),
    }
    server.image("/img/moved.png", image_bytes(6))
    server.redirect("/loop-b", "/loop-a")
    df = pd.DataFrame({
        "id": list(cases),
        "Title": [f"title {k}" for k in cases],
        "Image URL": [u for u, _ in cases.values()],
    })
    df = pd.concat([df, df.iloc[[0]].assign(id="ok_png_again")], ignore_index=True)
    calls: list[tuple[int, int]] = []
    # how long failing URLs take within these limits: benchmarks.guards (download)
    result = remote.download_all(df, "Image URL", tmp_path / "cache",
                                 tmp_path / "cache" / FAILURES, workers=8,
                                 progress=lambda d, t: calls.append((d, t)), **FAST)

    got = {r.name: r.reason for r in result.rejected.itertuples()}
    for name, n in zip(result.rows["name"], result.rows["bytes"]):
        got[Path(name).stem] = "ok"
        assert n > 0
    assert got.pop("ok_png_again") == "ok"
    assert got.pop("fake_png") in ("truncated", "corrupt")
    cases.pop("fake_png")
    assert got == {k: outcome for k, (_, outcome) in cases.items()}

    # retried: 5xx, timeouts, cut transfers; not retried: 4xx, type, size
    # (a request can be lost before the server counts it on a loaded box: the failures'
    # details say how many attempts were made)
    detail = dict(zip(result.rejected["name"], result.rejected["detail"]))
    assert server.hits["/flaky.png"] == 2
    for name in ("broken", "slow", "cut"):
        assert "(after 2 attempts)" in detail[name], detail[name]
    # a 404 or a page is answered once: never asked again (a detail may still say "after 2
    # attempts" when the first request was lost on a loaded box before the server saw it)
    assert server.hits["/missing.png"] == server.hits["/forbidden.png"] == 1
    assert server.hits["/painting.jpg"] == 1
    assert server.hits["/painting.jpg"] == 1 and server.hits["/big.png"] == 1
    assert server.hits["/img/ok.png"] == 1  # two rows, one URL, one request
    assert server.hits["/loop-a"] + server.hits["/loop-b"] == 4  # 1 + max_redirects
    # the size cap stops the transfer early (socket buffers hold a few MB at most)
    assert server.sent["/big.png"] < 25 * 2**20
    assert server.sent["/big-unsized.png"] < 10 * 2**20

    # the cache: exactly the good files, named sha256(url) + extension from the bytes
    files = _cache_files(tmp_path / "cache")
    ok_urls = [cases[k][0] for k in ("ok_png", "ok_jpeg", "wrong_type_header", "flaky",
                                     "redirect")]
    expected = {remote.url_key(u) + (".jpg" if u.endswith("/photo") else ".png")
                for u in ok_urls}
    assert set(files) - {FAILURES} == expected  # + the record of failed URLs
    assert not any(f.startswith(".") for f in files)
    names = dict(zip(result.rows["name"], result.rows["local_path"]))
    assert names["ok_jpeg.jpg"].endswith(".jpg") and names["ok_png.png"].endswith(".png")
    assert names["ok_png.png"] == names["ok_png_again.png"]
    # metadata travels with each row
    meta = result.metadata.set_index("name")
    assert meta.loc["flaky.png", "Title"] == "title flaky"
    assert meta.loc["flaky.png", "Image URL"] == cases["flaky"][0]
    assert result.downloaded == 5 and result.failed == len(cases) + 1 - 5 and result.cached == 0
    assert calls[-1] == (len(cases) + 1, len(cases) + 1)
    details = result.rejected.set_index("name")["detail"]
    assert "text/html" in details["html"] and "DOCTYPE" in details["html"]
    assert "Content-Length" in details["big"]  # refused from the header, body never read
    assert "reading stopped" in details["big_unsized"]
    assert "after 2 attempts" in details["broken"]


def test_rerun_requests_only_new_rows(server: ImageServer, tmp_path: Path) -> None:
    urls = [server.image(f"/img/{i}.png", image_bytes(i)) for i in range(6)]
    df = pd.DataFrame({"url": urls[:4], "artist": list("abcd")})
    cache = tmp_path / "cache"
    first = remote.download_all(df, "url", cache, cache / FAILURES, **FAST)
    assert first.downloaded == 4 and sum(server.hits.values()) == 4
    server.hits.clear()

    again = remote.download_all(df, "url", cache, cache / FAILURES, **FAST)
    assert sum(server.hits.values()) == 0
    assert again.cached == 4 and again.downloaded == 0
    assert set(again.rows["status"]) == {"cached"}
    assert again.rows["local_path"].tolist() == first.rows["local_path"].tolist()

    grown = pd.DataFrame({"url": urls, "artist": list("abcdef")})
    remote.download_all(grown, "url", cache, cache / FAILURES, **FAST)
    assert dict(server.hits) == {"/img/4.png": 1, "/img/5.png": 1}


def test_cancelled_download_leaves_nothing(server: ImageServer, tmp_path: Path) -> None:
    url = server.stream("/drip.png", 200_000, chunk=100, interval=0.05)
    cache = tmp_path / "cache"
    cancel = threading.Event()
    threading.Thread(
        target=lambda: (server.started["/drip.png"].wait(5), time.sleep(0.3), cancel.set()),
        daemon=True,
    ).start()
    with pytest.raises(remote.Cancelled):
        remote.download_all(pd.DataFrame({"url": [url]}), "url", cache, cache / FAILURES,
                            cancel=cancel, timeout=2, total_timeout=30, max_bytes=10**6)
    assert server.sent["/drip.png"] > 0
    assert _cache_files(cache) == []  # no partial file, no temporary


_CHILD = """
import sys, pandas as pd
from pathlib import Path
from xdeg_pipeline.core.sources import remote
from xdeg_pipeline.core.images.scan import scan_collection
remote.download_all(pd.DataFrame({"url": [sys.argv[1]]}), "url", sys.argv[2],
                    Path(sys.argv[2]) / "failures.json", timeout=5, total_timeout=60,
                    max_bytes=10**7)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_download_leaves_no_partial_file(
    server: ImageServer, tmp_path: Path, sig: signal.Signals
) -> None:
    url = server.stream("/drip.png", 1_000_000, chunk=1000, interval=0.02)
    cache = tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(cache)],
                             stderr=subprocess.PIPE)
    try:
        assert server.started["/drip.png"].wait(30), "download never started"
        deadline = time.monotonic() + 30  # killed mid-file: once its temporary is being written
        while not any(p.name.endswith(".tmp") and p.stat().st_size > 0
                      for p in cache.rglob("*.tmp")):
            assert time.monotonic() < deadline and child.poll() is None, "no temporary written"
            time.sleep(0.02)
        child.send_signal(sig)
        _, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    if sig == signal.SIGINT:
        assert b"KeyboardInterrupt" in err
    key = remote.url_key(url)
    leftovers = _cache_files(cache)
    assert not any(f.startswith(key) for f in leftovers)  # never a partial file at the name
    if sig == signal.SIGINT:
        assert leftovers == []  # Ctrl-C: the temporary is removed too
    else:  # SIGKILL: only a hidden temporary can remain
        assert leftovers and all(f.startswith(".") and f.endswith(".tmp") for f in leftovers)
    # the next run removes any temporary a killed process left, and fetches the file
    server.image("/drip.png", image_bytes(9))
    result = remote.download_all(pd.DataFrame({"url": [url]}), "url", cache, cache / FAILURES,
                                 **FAST)
    assert result.downloaded == 1
    assert _cache_files(cache) == [f"{key}.png"]


def test_sync_collection_links_and_prunes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    a, b = cache / "a.png", cache / "b.png"
    a.write_bytes(image_bytes(1))
    b.write_bytes(image_bytes(2))
    view = tmp_path / "view"
    remote.sync_collection({"x.png": a, "y.png": b}, view)
    assert os.path.samefile(view / "x.png", a) and os.path.samefile(view / "y.png", b)
    ino = (view / "x.png").stat().st_ino
    remote.sync_collection({"x.png": a, "z.png": b}, view)
    assert sorted(p.name for p in view.iterdir()) == ["x.png", "z.png"]
    assert (view / "x.png").stat().st_ino == ino  # unchanged entry not rewritten
    remote.sync_collection({"x.png": b}, view)
    assert (view / "x.png").read_bytes() == b.read_bytes()


def test_caption_and_display_meta(tmp_path: Path) -> None:
    meta = {"ID": "58c1", "Style": "Modern Art", "Image URL": "http://x", "Year": "1928",
            "Artist": "René Magritte", "Title": "The Lovers", **{f"e{i}": "0" for i in range(20)}}
    assert remote.caption(meta) == "The Lovers — René Magritte"
    assert remote.caption({"title": "Sea"}) == "Sea" and remote.caption({"x": "1"}) is None
    shown = remote.display_meta(meta)
    assert list(shown)[:5] == ["Title", "Artist", "Year", "Style", "ID"]
    assert len(shown) == 12
    # a IIIF row: label wins the caption, metadata pairs are listed, credits and links are not
    iiif = {"label": "Wave", "Title": "other", "credit": "Gift", "link": "https://m.example/1",
            "canvas": "https://m.example/c1", "metadata": json.dumps(
                [{"label": {"en": ["Artist"]}, "value": {"none": ["Hokusai"]}},
                 {"label": "Medium", "value": "print"}])}
    assert remote.caption(iiif) == "Wave — Hokusai"
    assert remote.display_meta(iiif) == {"label": "Wave", "Title": "other", "Artist": "Hokusai",
                                         "Medium": "print"}
    table = tmp_path / "image_metadata.parquet"
    remote.write_metadata(pd.DataFrame({"name": ["a.png", "b.png"], "Title": ["A", ""]}), table)
    assert remote.read_metadata(table) == {"a.png": {"Title": "A"}, "b.png": {}}
    assert remote.read_metadata(table, ["b.png"]) == {"b.png": {}}
    assert remote.read_metadata(tmp_path / "absent.parquet") == {}


def test_permanent_failures_are_remembered_transient_ones_retried(
    server: ImageServer, tmp_path: Path
) -> None:
    urls = {
        "gone": server.status("/gone.png", 404),
        "html": server.image("/page.jpg", b"<html></html>", "text/html"),
        "down": server.status("/down.png", 500),
        "ok": server.image("/fine.png", image_bytes(7)),
    }
    df = pd.DataFrame({"id": list(urls), "url": list(urls.values())})
    cache = tmp_path / "cache"
    first = remote.download_all(df, "url", cache, cache / FAILURES, **FAST)
    assert sorted(first.rejected["name"]) == ["down", "gone", "html"]
    hits = dict(server.hits)
    second = remote.download_all(df, "url", cache, cache / FAILURES, **FAST)
    assert sorted(second.rejected["reason"]) == ["http_404", "http_500", "not_an_image"]
    assert server.hits["/gone.png"] == hits["/gone.png"]  # remembered: not requested
    assert server.hits["/page.jpg"] == hits["/page.jpg"]
    assert server.hits["/down.png"] > hits["/down.png"]  # a 5xx may pass: tried again
    assert server.hits["/fine.png"] == hits["/fine.png"]  # cached
    assert "remembered" in second.rejected.set_index("name").loc["gone", "detail"]
    # after the retry period (0 here) it is requested again; a URL that now works is forgotten
    server.image("/gone.png", image_bytes(8))
    third = remote.download_all(df, "url", cache, cache / FAILURES, retry_failed_after=0.0, **FAST)
    assert "gone" in set(third.rows["name"].str.split(".").str[0])
    assert url_key_in(cache, urls["gone"]) is False


def url_key_in(cache: Path, url: str) -> bool:
    import json

    return remote.url_key(url) in json.loads((cache / FAILURES).read_text())


def test_downloader_and_scan_sniff_alike(server: ImageServer, tmp_path: Path) -> None:
    """One table of signatures: a body the scan calls not_an_image is refused from its first
    bytes; one that starts like an image but does not decode keeps the scan's reason."""
    bodies = {"gif8": b"GIF8" + b"\x00\xff" * 40, "gif89a": b"GIF89a" + b"\x00\xff" * 40,
              "html": b"<html><body>moved</body></html>", "ok": image_bytes(3, "GIF")}
    urls = [server.image(f"/{key}.gif", body, "image/gif") for key, body in bodies.items()]
    cache = tmp_path / "cache"
    result = remote.download_all(pd.DataFrame({"id": list(bodies), "url": urls}), "url", cache,
                                 cache / FAILURES, **FAST)
    assert list(result.rows["name"]) == ["ok.gif"]
    downloaded = dict(zip(result.rejected["name"], result.rejected["reason"]))
    assert downloaded == {"gif8": "not_an_image", "gif89a": "corrupt", "html": "not_an_image"}
    assert "starts with b'GIF8" in result.rejected.set_index("name").loc["gif8", "detail"]
    folder = tmp_path / "folder"
    folder.mkdir()
    for key, body in bodies.items():
        (folder / f"{key}.gif").write_bytes(body)
    scan = scan_collection(folder)
    assert list(scan.manifest["name"]) == ["ok.gif"]
    scanned = {Path(n).stem: r for n, r in zip(scan.rejected["name"], scan.rejected["reason"])}
    assert scanned == downloaded


def test_a_host_that_stops_answering_has_its_other_urls_skipped(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """core/sources/remote/hosts.py: after the limit of timeouts in a row from one host, its
    URLs not yet requested fail at once (host_unreachable, not remembered); another host's
    URLs and the cached ones are fetched as before."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with ImageServer() as dead, ImageServer() as alive:
        slow = {f"s{i}": dead.slow(f"/s{i}.png", image_bytes(i), delay=3.0) for i in range(12)}
        good = {f"g{i}": alive.image(f"/g{i}.png", image_bytes(50 + i)) for i in range(3)}
        urls = {**slow, **good}
        df = pd.DataFrame({"id": list(urls), "url": list(urls.values())})
        cache, lines = tmp_path / "cache", []
        opts = {**FAST, "timeout": 0.5, "retries": 0}
        result = remote.download_all(df, "url", cache, cache / FAILURES, workers=2,
                                     hosts_down_after=3, log=lines.append, **opts)
        reasons = result.rejected.set_index("name")["reason"]
        assert sorted(result.rows["name"].str.split(".").str[0]) == ["g0", "g1", "g2"]
        assert set(reasons) == {"timeout", "host_unreachable"}
        tried = sum(dead.hits.get(f"/s{i}.png", 0) for i in range(12))
        assert 3 <= tried <= 4, tried  # 3 in a row, and the one in flight on the other thread
        assert (reasons == "host_unreachable").sum() == 12 - tried
        assert sum("stopped answering" in line for line in lines) == 1
        detail = result.rejected.set_index("name")["detail"]
        assert "in a row failed (timeout)" in detail[reasons == "host_unreachable"].iloc[0]
        again = remote.download_all(df, "url", cache, cache / FAILURES, workers=2,
                                    hosts_down_after=20, **opts)
        assert sum(dead.hits.get(f"/s{i}.png", 0) for i in range(12)) == tried + 12
        assert (again.rejected["reason"] == "timeout").sum() == 12  # not remembered: all tried


def test_an_answer_between_failures_starts_the_count_again() -> None:
    from xdeg_pipeline.core.sources.remote.errors import DownloadError
    from xdeg_pipeline.core.sources.remote.hosts import HostBreaker, host_of

    assert host_of("http://Example.org/a.png") == "example.org:80"
    assert host_of("https://example.org:8443/a") == "example.org:8443"
    breaker = HostBreaker(3)
    timeout, refused = DownloadError("timeout", retry=True), DownloadError("connection_error")
    url = "http://a.test/x.png"
    for result in (timeout, refused, DownloadError("http_404"), timeout, timeout):
        assert breaker.note(url, result) is None  # the 404 is an answer: 2 in a row at most
    assert breaker.skipped(url) is None
    assert breaker.note("http://b.test/y.png", timeout) is None  # another host
    assert breaker.note(url, refused) == "a.test:80" and breaker.down == ["a.test:80"]
    assert breaker.note(url, timeout) is None  # said once
    assert breaker.skipped("http://a.test/z.png").reason == "host_unreachable"
    assert breaker.skipped("http://b.test/z.png") is None
