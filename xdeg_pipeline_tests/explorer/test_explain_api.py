"""/api/explain and `xdeg explain` over a really built collection (default backbone): the maps
as JSON or PNG, the distance and ranks in a sentence, errors; a vectors build says there is no
map. Prints the explanation latency (p50) of the server."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from starlette.testclient import TestClient

from xdeg_pipeline import cli
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.explorer.app import create_app
from xdeg_pipeline_tests.helpers.explorer_home import own_environment


def _neighbours(home: Path, n: int) -> list[tuple[str, str]]:
    """``n`` pairs (image, its nearest neighbour) by name."""
    hashes, Z = read_feature_table(home / "pca_features.parquet")
    raw = pd.read_parquet(home / "raw_images.parquet").drop_duplicates("content_hash")
    name = dict(zip(raw["content_hash"], raw["name"]))
    out = []
    for i in range(min(n, len(hashes))):
        d = np.linalg.norm(Z - Z[i], axis=1)
        d[i] = np.inf
        out.append((name[hashes[i]], name[hashes[int(d.argmin())]]))
    return out


@pytest.fixture(scope="module")
def client(explorer_home: dict) -> TestClient:
    with TestClient(create_app(explorer_home["home"], explorer_home["images"]),
                    base_url="http://localhost:8765") as c:
        yield c


def test_json_and_png_of_a_step(client: TestClient, explorer_home: dict) -> None:
    a, b = _neighbours(explorer_home["home"], 1)[0]
    res = client.get("/api/explain", params={"a": a, "b": b, "format": "json"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["spatial"] is True and body["rank_a"] == 1
    assert np.asarray(body["grid_a"]).shape == (7, 7) == np.asarray(body["grid_b"]).shape
    assert sum(map(sum, body["grid_a"])) == pytest.approx(body["shared"], abs=1e-4)
    assert f"distance {body['distance']:.3f}" in body["sentence"] and "1st nearest" in body[
        "sentence"]
    png = client.get("/api/explain", params={"a": a, "b": b})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (456, 224)
    cached = list((explorer_home["home"] / "models" / "explain").rglob("*.json"))
    assert cached, "the maps are cached by the pair's hashes and the model"


def test_bad_requests(client: TestClient) -> None:
    assert client.get("/api/explain", params={"a": "more/img_000.png"}).status_code == 400
    res = client.get("/api/explain", params={"a": "nope.png", "b": "more/img_000.png"})
    assert res.status_code == 404
    res = client.get("/api/explain", params={"a": "more/img_000.png", "b": "more/img_002.png",
                                             "format": "gif"})
    assert res.status_code == 400


def test_latency_p50(client: TestClient, explorer_home: dict) -> None:
    """Figures only (no timing assert): PNG answers for pairs not explained before."""
    times = []
    for a, b in _neighbours(explorer_home["home"], 21)[1:]:
        t0 = time.perf_counter()
        assert client.get("/api/explain", params={"b": a, "a": b}).status_code == 200
        times.append((time.perf_counter() - t0) * 1000)
    print(f"explain latency p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"({len(times)} uncached pairs, PNG)")


def test_cli_writes_a_png(explorer_home: dict, tmp_path: Path) -> None:
    a, b = _neighbours(explorer_home["home"], 1)[0]
    out = io.StringIO()
    with own_environment(), contextlib.redirect_stdout(out):
        code = cli.main(["explain", a, b, "--png", str(tmp_path / "x.png"), "--home",
                         str(explorer_home["home"]), "--images", str(explorer_home["images"])])
    assert code == 0 and "nearest neighbour" in out.getvalue()
    assert Image.open(tmp_path / "x.png").size == (456, 224)


def test_a_vectors_build_has_no_map(explorer_home: dict, tmp_path: Path) -> None:
    hashes, X = read_feature_table(explorer_home["home"] / "image_features.parquet")
    table = tmp_path / "v.parquet"
    pd.DataFrame({"content_hash": hashes, "vector": list(X)}).to_parquet(table)
    home = tmp_path / "home"
    with own_environment(), contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["build", "--images", str(explorer_home["images"]), "--home",
                         str(home), "--vectors", str(table)]) == 0
    a, b = _neighbours(home, 1)[0]
    with TestClient(create_app(home, explorer_home["images"]),
                    base_url="http://localhost:8765") as c:
        body = c.get("/api/explain", params={"a": a, "b": b, "format": "json"}).json()
        assert body["spatial"] is False and "your own vectors" in body["message"]
        assert "nearest neighbour" in body["sentence"]
        res = c.get("/api/explain", params={"a": a, "b": b})
        assert res.status_code == 422 and "no spatial map" in json.loads(res.text)["error"]
