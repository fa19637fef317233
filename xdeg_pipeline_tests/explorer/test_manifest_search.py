"""Search covers a URL manifest's metadata: a collection downloaded from a CSV of image URLs
(local server), really built, then searched by artist, year and style through the API."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

from starlette.testclient import TestClient

from xdeg_pipeline.cli import main
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.explorer.app import create_app
from xdeg_pipeline_tests.helpers.explorer_home import own_environment
from xdeg_pipeline_tests.helpers.image_server import ImageServer, image_bytes

ARTISTS = ("Hilma af Klint", "Paul Klee", "Sonia Delaunay")


def test_search_finds_manifest_metadata(tmp_path: Path) -> None:
    manifest, home = tmp_path / "art.csv", tmp_path / "home"
    with own_environment(), ImageServer() as server:
        rows = [{"ID": f"art{i:02d}", "Title": f"Painting {i}", "Artist": ARTISTS[i % 3],
                 "Year": str(1900 + i), "Style": "Bauhaus" if i == 4 else "Abstract",
                 "Image URL": server.image(f"/i/{i}.png", image_bytes(i, size=96))}
                for i in range(12)]
        with open(manifest, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["build", "--manifest", str(manifest), "--home", str(home)]) == 0
        root = Settings.from_env(home=home, manifest=manifest).images_root
    with TestClient(create_app(home, root), base_url="http://localhost:8765") as client:
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
