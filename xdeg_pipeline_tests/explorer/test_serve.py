"""The explorer on a real server: 50 concurrent path requests, and a new build picked up
without a restart."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xdeg_pipeline_tests.helpers.explorer_home import add_images, build
from xdeg_pipeline_tests.helpers.live_server import running_explorer


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _loaded_status(base: str, timeout: float = 60) -> dict:
    """/api/status once the path finder is loaded (it loads after the server answers)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = _get(f"{base}/api/status")
        if status == 200 and not body.get("loading"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def _path_url(base: str, params: dict) -> str:
    return f"{base}/api/path?{urllib.parse.urlencode(params)}"


def test_fifty_concurrent_path_requests_are_all_right(explorer_home: dict) -> None:
    names = [n for n in explorer_home["names"] if n.startswith(("more/", "shapes/"))]
    requests = []
    for i in range(50):
        params = {"source": names[i % len(names)], "target": names[(i * 7 + 3) % len(names)]}
        if params["source"] == params["target"]:
            params["target"] = names[(i + 1) % len(names)]
        if i % 3 == 1:
            params.update(mode="steps", steps=str(2 + i % 4))
        if i % 3 == 2:
            params.update(mode="shortest")
        requests.append(params)
    with running_explorer(explorer_home["home"], explorer_home["images"]) as base:
        expected = [_get(_path_url(base, p)) for p in requests]  # one at a time
        with ThreadPoolExecutor(50) as pool:
            got = list(pool.map(lambda p: _get(_path_url(base, p)), requests))
    for params, (status, body), (want_status, want) in zip(requests, got, expected):
        assert status == want_status == 200
        chain, first = body["chains"][0], want["chains"][0]
        chain.pop("earlier", None)  # the second answer is the explorer's earlier one: kept
        first.pop("earlier", None)
        assert chain == first
        assert chain["path"][0] == params["source"] and chain["path"][-1] == params["target"]
        if params.get("mode") == "steps":
            assert len(chain["path"]) == int(params["steps"]) + 2


def test_a_new_build_is_served_without_restart(explorer_home: dict, tmp_path: Path) -> None:
    images, home = tmp_path / "images", tmp_path / "home"
    shutil.copytree(explorer_home["images"], images)
    shutil.copytree(explorer_home["home"], home, ignore=shutil.ignore_patterns("*.lock"))
    with running_explorer(home, images, check_every=0.2, settle=0.5) as base:
        before = _loaded_status(base)
        new = add_images(images, 500, 2)
        status, missing = _get(_path_url(base, {"source": new[0], "target": new[1]}))
        assert status == 404
        build(images, home)  # the real build, while the server runs
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, now = _get(f"{base}/api/status")  # "loading" (no counts) while the new one loads
            grown = now.get("images") == before["images"] + 2
            if now["generation"] > before["generation"] and grown:
                break
            time.sleep(0.3)
        assert now.get("images") == before["images"] + 2, now
        status, body = _get(_path_url(base, {"source": new[0], "target": new[1]}))
        assert status == 200 and body["chains"][0]["path"][-1] == new[1]
        assert now["on_map"] == now["unique_images"]  # the new images are on the map
