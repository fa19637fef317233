"""The explorer's API over a really built collection: every case of the issue, and security."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from xdeg_pipeline.core.query import Collection, PathRequest
from xdeg_pipeline.explorer.api import counts_line
from xdeg_pipeline.explorer.app import CSP, create_app
from xdeg_pipeline.explorer.serve import host_warning
from xdeg_pipeline_tests.helpers.explorer_home import BROKEN, HOSTILE_NAMES

A, B = "more/img_000.png", "shapes/img_013.png"


@pytest.fixture(scope="module")
def client(explorer_home: dict) -> TestClient:
    app = create_app(explorer_home["home"], explorer_home["images"])
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


def _hash(explorer_home: dict, name: str) -> str:
    return hashlib.sha256((explorer_home["images"] / name).read_bytes()).hexdigest()


# ------------------------------------------------------------------------ page and headers
def test_page_is_static_and_has_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "script-src 'self'" in CSP and "unsafe" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", r.text, re.S)
    assert scripts and all(s.strip() == "" for s in scripts), "no inline script"
    assert "style=" not in r.text and "<style" not in r.text
    assert "img_000" not in r.text, "no collection text is written into the page by the server"
    for name in ("explorer.js", "map.js", "explorer.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_errors_carry_the_headers_too(client: TestClient) -> None:
    for url in ("/nope", "/api/path", "/image/xyz", "/static/none.js"):
        r = client.get(url)
        assert r.status_code in (400, 404)
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["content-type"].startswith("application/json")
        assert "error" in r.json()


def test_page_scripts_never_write_html() -> None:
    from importlib import resources

    static = resources.files("xdeg_pipeline.explorer").joinpath("static")
    for name in ("explorer.js", "map.js"):
        js = static.joinpath(name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in js, f"{name} uses {sink}"


# ------------------------------------------------------------------------ /api/images
def test_images_search(client: TestClient, explorer_home: dict) -> None:
    r = client.get("/api/images", params={"q": "img 013"})
    assert r.status_code == 200
    images = r.json()["images"]
    assert [i["name"] for i in images] == [B]
    entry = images[0]
    assert set(entry) == {"name", "content_hash", "caption", "point"}
    assert entry["content_hash"] == _hash(explorer_home, B)
    assert isinstance(entry["point"], int)
    everything = client.get("/api/images", params={"limit": 1000}).json()["images"]
    assert len(everything) == len(explorer_home["names"])
    assert len(client.get("/api/images", params={"limit": 3}).json()["images"]) == 3


def test_images_search_finds_hostile_names_as_data(client: TestClient) -> None:
    r = client.get("/api/images", params={"q": "script"})
    names = [i["name"] for i in r.json()["images"]]
    assert f"hostile/{HOSTILE_NAMES[0]}" in names
    assert "<" not in r.text and "\\u003cscript" in r.text, "JSON escapes <, > and &"


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "x"}, {"limit": "10000000"},
                                   [("q", "a"), ("q", "b")]])
def test_images_bad_parameters(client: TestClient, query) -> None:
    r = client.get("/api/images", params=query)
    assert r.status_code == 400 and "\n" not in r.json()["error"]


# ------------------------------------------------------------------------ /api/path
def test_path_is_the_cli_json_object(client: TestClient, explorer_home: dict) -> None:
    r = client.get("/api/path", params={"source": A, "target": B})
    assert r.status_code == 200
    body = r.json()
    chain = body["chains"][0]
    assert chain["path"][0] == A and chain["path"][-1] == B
    collection = Collection(explorer_home["home"], explorer_home["images"])
    expected = collection.find(PathRequest(A, B))[0].as_dict()  # what `xdeg path --json` prints
    assert chain == expected
    assert set(body["images"]) == set(chain["path"])
    assert body["images"][A]["content_hash"] == _hash(explorer_home, A)
    timing = r.headers["server-timing"]
    assert re.fullmatch(r"path;dur=[0-9.]+, queue;dur=[0-9.]+, total;dur=[0-9.]+", timing)


def test_path_modes_alternatives_avoid(client: TestClient) -> None:
    steps = client.get("/api/path", params={"source": A, "target": B, "mode": "steps",
                                            "steps": 5}).json()["chains"][0]
    assert len(steps["path"]) == 7 and steps["mode"] == "steps"
    implied = client.get("/api/path", params={"source": A, "target": B, "steps": 5}).json()
    assert implied["chains"][0]["path"] == steps["path"]
    shortest = client.get("/api/path", params={"source": A, "target": B, "mode": "shortest"})
    assert shortest.json()["chains"][0]["mode"] == "shortest"
    two = client.get("/api/path", params={"source": A, "target": B, "alternatives": 2,
                                          "mode": "steps", "steps": 3}).json()["chains"]
    assert len(two) == 2 and two[0]["path"] != two[1]["path"]
    inner = steps["path"][2]
    rerouted = client.get("/api/path", params=[("source", A), ("target", B), ("mode", "steps"),
                                               ("steps", "5"), ("avoid", inner)]).json()
    assert inner not in rerouted["chains"][0]["path"]
    by_stem = client.get("/api/path", params={"source": "img_000", "target": "img_013"})
    assert by_stem.json()["chains"][0]["path"][0] == A


def test_a_shared_link_pins_its_chain(client: TestClient) -> None:
    two = client.get("/api/path", params={"source": A, "target": B,
                                          "alternatives": 2}).json()["chains"]
    other = two[1]["path"]
    pinned = client.get("/api/path", params=[("source", A), ("target", B),
                                             *(("chain", n) for n in other)]).json()["chains"]
    assert len(pinned) == 1 and pinned[0]["path"] == other and pinned[0]["pin"]["kept"]
    better = pinned[0]["pin"]["better"]
    assert better is None or better["path"] == two[0]["path"]
    broken = client.get("/api/path", params=[("source", A), ("target", B), ("chain", A),
                                             ("chain", "nowhere_x"), ("chain", B)]).json()
    assert broken["chains"][0]["path"] == two[0]["path"]
    assert broken["chains"][0]["pin"]["kept"] is False and broken["chains"][0]["pin"]["reason"]
    one = client.get("/api/path", params={"source": A, "target": B, "chain": A})
    assert one.status_code == 400 and "chain must list" in one.json()["error"]


def test_waypoints(client: TestClient, explorer_home: dict) -> None:
    via = ["shapes/img_001.png", "more/img_020.png"]
    r = client.get("/api/path", params=[("source", A), ("target", B), ("via", via[0]),
                                        ("via", via[1])])
    chain = r.json()["chains"][0]
    assert r.status_code == 200 and chain["via"] == via
    inner = chain["path"][1:-1]
    assert via[0] in inner and via[1] in inner and inner.index(via[0]) < inner.index(via[1])
    assert chain["path"][0] == A and chain["path"][-1] == B
    collection = Collection(explorer_home["home"], explorer_home["images"])
    assert chain == collection.find(PathRequest(A, B, via=tuple(via)))[0].as_dict()
    missing = client.get("/api/path", params={"source": A, "target": B, "via": "nowhere_x"})
    assert missing.status_code == 404 and missing.json()["parameter"] == "via"


def test_unknown_names_are_404_with_closest(client: TestClient) -> None:
    r = client.get("/api/path", params={"source": "img_0000", "target": B})
    assert r.status_code == 404
    body = r.json()
    assert "img_0000" in body["error"] and A in body["closest"]
    assert body["parameter"] == "source" and body["name"] == "img_0000"
    ambiguous = client.get("/api/path", params={"source": "img", "target": B})
    assert ambiguous.status_code == 404
    avoid = client.get("/api/path", params={"source": A, "target": B, "avoid": "nothing_here"})
    assert avoid.status_code == 404 and avoid.json()["parameter"] == "avoid"


def test_rejected_images_say_so_and_why(client: TestClient) -> None:
    r = client.get("/api/path", params={"source": BROKEN, "target": B})
    assert r.status_code == 404
    body = r.json()
    assert "rejected by the build" in body["error"] and "not_an_image" in body["error"]
    assert body["rejected"]["reason"] == "not_an_image" and body["rejected"]["name"] == BROKEN


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"target": B}, "missing source"),
        ({"source": A}, "missing target"),
        ({"source": A, "target": B, "mode": "fast"}, "mode must be"),
        ({"source": A, "target": B, "mode": "steps"}, "needs steps"),
        ({"source": A, "target": B, "steps": "abc"}, "integer"),
        ({"source": A, "target": B, "steps": "-1"}, "between"),
        ({"source": A, "target": B, "steps": "100000"}, "between"),
        ({"source": A, "target": B, "mode": "shortest", "steps": "3"}, "only used"),
        ({"source": A, "target": B, "alternatives": "0"}, "between"),
        ({"source": A, "target": B, "alternatives": "99"}, "between"),
        ([("source", A), ("source", B), ("target", B)], "once"),
        ({"source": "/etc/passwd", "target": B}, "not a name inside"),
        ({"source": "../../etc/passwd", "target": B}, "not a name inside"),
        ({"source": "a\x00b", "target": B}, "NUL"),
        ({"source": "x" * 5000, "target": B}, "longer"),
        ({"source": A, "target": B, "avoid": A}, "cannot be avoided"),
    ],
)
def test_malformed_requests_are_400_one_line(client: TestClient, params, fragment) -> None:
    r = client.get("/api/path", params=params)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert fragment in error and "\n" not in error


# ------------------------------------------------------------------------ pictures
def test_images_and_thumbnails_by_content_hash(client: TestClient, explorer_home: dict) -> None:
    h = _hash(explorer_home, A)
    r = client.get(f"/image/{h}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (explorer_home["images"] / A).read_bytes()
    t = client.get(f"/thumb/{h}")
    assert t.status_code == 200 and t.headers["content-type"] == "image/webp"
    assert t.content[:4] == b"RIFF" and "immutable" in t.headers["cache-control"]
    atlases = client.get("/api/map").json()["atlases"]
    assert atlases and client.get(atlases[0]["url"]).content[8:12] == b"WEBP"


@pytest.mark.parametrize(
    "url",
    [
        "/image/" + "0" * 64,
        "/thumb/" + "0" * 64,
        "/atlas/" + "0" * 64 + ".webp",
        "/image/..%2F..%2F..%2Fetc%2Fpasswd",
        "/image/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/thumb/../../pyproject.toml",
        "/static/..%2Fapp.py",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/atlas/..%2Fatlas_index.parquet",
        "/image/" + "A" * 64,
        "//etc/passwd",
        "/image//etc/passwd",
    ],
)
def test_only_known_content_hashes_are_served(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404, (url, r.status_code)
    assert b"root:" not in r.content and b"[project]" not in r.content


def test_the_hash_of_a_rejected_file_is_not_served(client: TestClient, explorer_home) -> None:
    h = hashlib.sha256((explorer_home["images"] / BROKEN).read_bytes()).hexdigest()
    assert client.get(f"/image/{h}").status_code == 404


# ------------------------------------------------------------------------ map, exports, status
def test_map_lists_every_image_once(client: TestClient, explorer_home: dict) -> None:
    body = client.get("/api/map").json()
    n = body["n"]
    r = client.get(body["points"])
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff" and len(r.content) == 16 * n
    u, v, sheet, slot = (np.frombuffer(r.content, dt, n, k * 4 * n)
                         for k, dt in enumerate(("<f4", "<f4", "<i4", "<i4")))
    assert np.abs(u).max() <= 0.5 + 1e-6 and np.abs(v).max() <= 0.5 + 1e-6
    assert (sheet >= 0).all() and (slot >= 0).all() and body["cell"] and body["side"]
    hashes = [client.get("/api/map/point", params={"i": i}).json()["hash"] for i in range(n)]
    assert len(set(hashes)) == n == len(explorer_home["names"])
    status = client.get("/api/status").json()
    assert status["on_map"] == n and status["loading"] is False
    assert status["counts"] == counts_line(status["images"], status["unique_images"],
                                           status["on_map"])


@pytest.mark.parametrize("query, code", [("", 400), ("i=-1", 400), ("i=abc", 400),
                                         ("i=99999999", 404), ("i=1&i=2", 400),
                                         ("i=..%2F..%2Fetc%2Fpasswd", 400)])
def test_a_map_point_is_asked_by_its_index_only(client: TestClient, query: str, code: int) -> None:
    r = client.get(f"/api/map/point?{query}")
    assert r.status_code == code and "\n" not in r.json()["error"]


def test_a_map_point_has_its_thumbnail(client: TestClient) -> None:
    r = client.get("/api/map/thumb", params={"i": 0})
    assert r.status_code == 200 and r.content[:4] == b"RIFF"
    assert r.headers["content-type"] == "image/webp"
    for bad, code in (("-1", 400), ("x", 400), ("99999999", 404)):
        assert client.get("/api/map/thumb", params={"i": bad}).status_code == code


def test_the_binary_points_keep_the_host_rule(client: TestClient) -> None:
    r = client.get("/api/map/points", headers={"host": "evil.example:8765"})
    assert r.status_code == 421 and r.headers["content-type"] == "application/json"
    assert "content-security-policy" in r.headers


def test_the_counts_say_what_they_count() -> None:
    assert counts_line(4515, 4267, 4267) == (
        "4,515 files, 4,267 distinct images on the map (248 files repeat another's content)")
    assert counts_line(1, 1, 1) == "1 file, 1 distinct image on the map"
    assert counts_line(3, 2, 1) == ("3 files, 1 distinct image on the map (1 file repeats "
                                    "another's content; 1 not on the map yet)")


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("gif", b"GIF89a"),
                                        ("webp", b"RIFF"), ("html", b"<!DOCTYPE html>")])
def test_exports(client: TestClient, fmt: str, magic: bytes) -> None:
    hostile = f"hostile/{HOSTILE_NAMES[0]}"
    r = client.get("/api/export", params={"source": hostile, "target": B, "format": fmt})
    assert r.status_code == 200 and r.content.startswith(magic)
    assert "attachment" in r.headers["content-disposition"]
    if fmt == "html":
        assert b"<script>" not in r.content and b"&lt;script&gt;" in r.content


def test_export_bad_format(client: TestClient) -> None:
    r = client.get("/api/export", params={"source": A, "target": B, "format": "exe"})
    assert r.status_code == 400
    r = client.get("/api/export", params={"source": A, "target": B, "alternative": "5"})
    assert r.status_code == 404


def test_host_warning() -> None:
    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None
    warning = host_warning("0.0.0.0")
    assert warning and "no authentication" in warning.lower()


def test_missing_build_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="build it first"):
        create_app(tmp_path, tmp_path)


def test_cli_path_gif_and_serve_without_a_build(explorer_home: dict, tmp_path: Path) -> None:
    from PIL import Image

    from xdeg_pipeline.cli import main
    from xdeg_pipeline_tests.helpers.explorer_home import own_environment

    where = ["--home", str(explorer_home["home"]), "--images", str(explorer_home["images"])]
    with own_environment():
        assert main(["path", A, B, "--gif", str(tmp_path / "chain.gif"), *where]) == 0
        assert main(["path", A, B, "--gif", str(tmp_path / "chain.webp"), *where]) == 0
        assert main(["path", A, B, "--gif", str(tmp_path / "chain.png"), *where]) == 2
        assert main(["serve", "--home", str(tmp_path / "empty")]) == 2
    with Image.open(tmp_path / "chain.gif") as gif, Image.open(tmp_path / "chain.webp") as webp:
        assert gif.format == "GIF" and gif.n_frames > 1 and webp.format == "WEBP"
    assert not (tmp_path / "chain.png").exists()


def test_a_request_the_pipeline_answered_gets_the_same_chain(explorer_home: dict,
                                                             tmp_path: Path) -> None:
    """The explorer answers a request that requested_paths answered (paths/
    answered_chains.parquet) with that chain while it holds and nothing truly better appeared,
    as a refresh of requested_paths does; a new answered table is read without a restart, and
    what the explorer answered it remembers itself."""
    import shutil

    import pandas as pd

    from xdeg_pipeline.core.query import chain_id
    from xdeg_pipeline.core.storage.layout import Layout

    home = tmp_path / "home"
    shutil.copytree(explorer_home["home"], home)
    layout = Layout(home)
    layout.explorer_chains.unlink(missing_ok=True)  # what other tests asked the shared home
    names = Collection(home, explorer_home["images"]).names
    app = create_app(home, explorer_home["images"])
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        seen = []
        for a, b in zip(names[:10], names[::-1][:10], strict=True):
            two = c.get("/api/path", params={"source": a, "target": b,
                                             "alternatives": 2}).json()["chains"]
            pinned = c.get("/api/path", params=[("source", a), ("target", b), *(
                ("chain", n) for n in two[1]["path"])]).json()["chains"][0]
            if pinned["pin"]["kept"] and pinned["pin"]["better"] is None:
                seen.append((a, b, two[0]["path"], two[1]["path"]))
        assert seen  # pairs whose second chain is as good as the first
        layout.answered_chains.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"chain_id": [chain_id(PathRequest(a, b)) for a, b, _, _ in seen],
                      "path": [other for _, _, _, other in seen]}).to_parquet(
            layout.answered_chains)
        for a, b, fresh, other in seen:
            got = c.get("/api/path", params={"source": a, "target": b}).json()["chains"][0]
            assert got["path"] == other != fresh and got["earlier"] == {"kept": True,
                                                                         "reason": None}
        a, b, fresh, other = seen[0]
        pd.DataFrame({"chain_id": ["other"], "path": [[a, b]]}).to_parquet(
            layout.answered_chains)  # the pipeline forgot it: the explorer still remembers
        again = c.get("/api/path", params={"source": a, "target": b}).json()["chains"][0]
        assert again["path"] == other and again["earlier"]["kept"]


def test_the_explorer_answers_its_own_chains_again(explorer_home: dict, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Every request the explorer answers is remembered (paths/explorer_chains.parquet): after
    a restart it answers the same chain while it holds and nothing truly better appeared; the
    latest LIMIT requests are kept; a table it cannot write is said once in the log and the
    chains are kept in memory."""
    import shutil
    import time

    import pandas as pd

    from xdeg_pipeline.core.query import chain_id
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline.explorer.answers import AnsweredChains

    home = tmp_path / "home"
    shutil.copytree(explorer_home["home"], home)
    layout = Layout(home)
    layout.explorer_chains.unlink(missing_ok=True)  # what other tests asked the shared home
    names = Collection(home, explorer_home["images"]).names
    with TestClient(create_app(home, explorer_home["images"]),
                    base_url="http://127.0.0.1:8765") as c:
        seen = None
        for a, b in zip(names[:10], names[::-1][:10], strict=True):
            two = c.get("/api/path", params={"source": a, "target": b,
                                             "alternatives": 2}).json()["chains"]
            pinned = c.get("/api/path", params=[("source", a), ("target", b), *(
                ("chain", n) for n in two[1]["path"])]).json()["chains"][0]
            if pinned["pin"]["better"] is None:
                seen = (a, b, two[0]["path"], two[1]["path"])
                break
        assert seen is not None
        a, b, fresh, other = seen
        first = c.get("/api/path", params={"source": a, "target": b}).json()["chains"][0]
        assert first["path"] == fresh and "earlier" not in first
    table = pd.read_parquet(layout.explorer_chains).set_index("chain_id")
    assert list(table.loc[chain_id(PathRequest(a, b)), "path"]) == fresh
    assert len(table) >= 3  # every request answered, pinned ones not among them
    # as if the explorer had answered the alternative before the graph changed
    table.loc[chain_id(PathRequest(a, b)), "path"] = other
    table.reset_index().to_parquet(layout.explorer_chains)
    with TestClient(create_app(home, explorer_home["images"]),
                    base_url="http://127.0.0.1:8765") as c:
        again = c.get("/api/path", params={"source": a, "target": b}).json()["chains"][0]
    assert again["path"] == other and again["earlier"] == {"kept": True, "reason": None}

    small = AnsweredChains(layout.answered_chains, tmp_path / "own.parquet", limit=2)
    for i, (x, y) in enumerate(zip(names[:3], names[3:6], strict=True)):
        small.record(PathRequest(x, y), [x, f"mid{i}", y])
    want = [names[2], "mid2", names[5]]
    deadline = time.monotonic() + 10  # the writer thread writes it soon, unasked
    kept = None
    while time.monotonic() < deadline:
        if (tmp_path / "own.parquet").exists():
            kept = pd.read_parquet(tmp_path / "own.parquet")
            if len(kept) and list(kept["path"].iloc[-1]) == want:
                break
        time.sleep(0.05)
    assert kept is not None and len(kept) == 2 and list(kept["path"].iloc[-1]) == want

    blocked = tmp_path / "blocked.parquet"
    blocked.mkdir()  # not a file: every write fails
    stuck = AnsweredChains(layout.answered_chains, blocked)
    with caplog.at_level("WARNING", logger="xdeg.explorer"):
        for i in range(3):
            stuck.record(PathRequest(names[0], names[i + 1]), [names[0], names[i + 1]])
            stuck.flush()
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1
    assert stuck.earlier(PathRequest(names[0], names[2])) == [names[0], names[2]]
    gone = AnsweredChains(layout.answered_chains, tmp_path / "vanished" / "paths" / "x.parquet")
    gone.record(PathRequest(names[0], names[1]), [names[0], names[1]])
    gone.flush()  # a data folder that vanished is not made again
    assert not (tmp_path / "vanished").exists()
