"""End to end from a URL manifest: a CSV of image URLs served by a local HTTP server (with
failing rows mixed in) builds raw_images .. similarity_graph on a real Dagster instance, the
failures land in rejected_images, and the manifest's metadata shows in a requested path."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance

from xdeg_pipeline.checks import ALL_CHECKS
from xdeg_pipeline.cli import main
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.query import Collection
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.definitions import defs
from xdeg_pipeline_tests.helpers.dagster_runs import build, metadata_of
from xdeg_pipeline_tests.helpers.image_server import ImageServer, image_bytes

GOOD = 30
ARTISTS = ("Hilma af Klint", "Paul Klee", "Sonia Delaunay")
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
LABEL_29 = "Composition <29> & co"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with ImageServer() as srv:
        yield srv


def _build(instance: DagsterInstance):
    checks = [c for c in ALL_CHECKS
              if next(iter(c.check_keys)).asset_key.path[0] != "requested_paths"]
    return build(instance, checks)


def _write_manifest(path: Path, server: ImageServer) -> dict[str, str]:
    """A WikiArt-like CSV: 30 good rows and one row per failure; returns failing id -> reason."""
    rows = []
    for i in range(GOOD):
        url = server.image(f"/images/{i}/art-{i}.png", image_bytes(i, size=96))
        rows.append({"ID": f"art{i:02d}", "Title": f"Painting {i}",
                     "Artist": ARTISTS[i % 3], "Year": str(1900 + i), "Image URL": url,
                     **_credited(i)})
    failures = {
        "gone": (server.status("/gone.png", 404), "http_404"),
        "down": (server.status("/down.png", 503), "http_503"),
        "page": (server.image("/page.jpg", b"<html><body>moved</body></html>", "text/html"),
                 "not_an_image"),
        "huge": (server.stream("/huge.png", 5 * 2**20), "too_large"),
        "slow": (server.slow("/slow.png", image_bytes(99), delay=3.0), "timeout"),
        "ftp": ("ftp://127.0.0.1/x.png", "bad_scheme"),
    }
    for key, (url, _) in failures.items():
        rows.append({"ID": key, "Title": key, "Artist": "", "Year": "", "Image URL": url,
                     **_credited(-1)})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {key: reason for key, (_, reason) in failures.items()}


def _credited(i: int) -> dict[str, str]:
    """The optional columns a museum's CSV may carry: object page, credit, rights, label (one
    row has its own label; the others fall back to Title)."""
    if i < 0:
        return dict.fromkeys(("link", "credit", "rights", "label"), "")
    return {"link": f"https://museum.example/objects/{i}", "credit": f"Gift of <b>donor</b> {i}",
            "rights": CC_BY if i % 2 else "", "label": LABEL_29 if i == 29 else ""}


def test_manifest_build_rejects_and_pathmetadata_of(
    xdeg_env: dict[str, Path], server: ImageServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = xdeg_env["home"]
    manifest = tmp_path / "art.csv"
    expected_failures = _write_manifest(manifest, server)
    # the manifest wins over XDEG_IMAGES (set by xdeg_env to a folder of 24 other images)
    monkeypatch.setenv("XDEG_MANIFEST", str(manifest))
    for var, value in (("TIMEOUT", "0.5"), ("TOTAL_TIMEOUT", "2"), ("RETRIES", "1"),
                       ("MAX_MB", "1")):
        monkeypatch.setenv(f"XDEG_DOWNLOAD_{var}", value)

    with DagsterInstance.get() as instance:
        result = _build(instance)
        assert result.success
        for check in result.get_asset_check_evaluations():
            assert check.passed, check.check_name
        meta = metadata_of(result, "raw_images")
        assert meta["downloaded"] == GOOD and meta["cached"] == 0
        assert meta["download_failed"] == len(expected_failures)

        raw = pd.read_parquet(home / "raw_images.parquet")
        names = sorted(raw["name"])
        assert names == [f"art{i:02d}.png" for i in range(GOOD)]
        assert all(Path(p).is_file() for p in raw["path"])
        assert all(Path(p).parent == Layout(home).downloaded_images for p in raw["path"])
        assert raw.set_index("name").loc["art07.png", "url"].endswith("/images/7/art-7.png")

        rejected = pd.read_parquet(home / "rejected_images.parquet")
        downloads = rejected[rejected["stage"] == "download"]
        assert dict(zip(downloads["name"], downloads["reason"])) == expected_failures
        stored = pd.read_parquet(home / "image_metadata.parquet").set_index("name")
        assert stored.loc["art04.png", "Artist"] == ARTISTS[1]
        assert stored.loc["art04.png", "Year"] == "1904"

        graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
        assert graph.vcount() == GOOD and graph.is_connected()

        run = defs.resolve_job_def("find_paths").execute_in_process(
            instance=instance,
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": "art00", "target": "art29"}]}}}},
        )
        assert run.success
        table = pd.read_parquet(home / "paths" / "requested_paths.parquet")
        chain = list(table.iloc[0]["path"])
        assert chain[0] == "art00.png" and chain[-1] == "art29.png"
        page = Path(table.iloc[0]["html"]).read_text(encoding="utf-8")
        for i, label in ((0, "Painting 0"), (29, "Composition &lt;29&gt; &amp; co")):
            assert f"{label} — {ARTISTS[i % 3]}" in page  # caption and metadata of both ends
            assert f"<dd>{1900 + i}</dd>" in page
            assert f'<p class="credit">Gift of donor {i}</p>' in page  # credit as text
            assert page.count(f'<a href="https://museum.example/objects/{i}" target="_blank" '
                              'rel="noopener">') == 2  # picture and label link the object page
        assert f'<a href="{CC_BY}" target="_blank" rel="noopener">CC BY 4.0</a>' in page
        assert "OpenMoji" not in page and "<b>" not in page
        assert Path(table.iloc[0]["png"]).stat().st_size > 1000
        shown = metadata_of(run, "requested_paths")["provenance"]  # the Dagster UI's table
        assert "museum.example/objects/29" in shown and "Gift of donor 29" in shown
        _path_json_credits(home, chain)

        # a later process that knows nothing of the manifest still finds every file
        collection = Collection(home, tmp_path / "not-the-collection")
        assert all(collection.image_path(n).is_file() for n in collection.names)
        assert collection.label("art03.png") == f"Painting 3 — {ARTISTS[0]}"
        assert collection.label("art29.png") == f"{LABEL_29} — {ARTISTS[2]}"

        # re-run: nothing is downloaded again; only the failed rows are tried again
        server.hits.clear()
        again = _build(instance)
        assert again.success
        meta = metadata_of(again, "raw_images")
        assert meta["downloaded"] == 0 and meta["cached"] == GOOD
        assert not any(path.startswith("/images/") for path in server.hits)
        assert metadata_of(again, "image_features")["run_images_computed"] == 0


def _path_json_credits(home: Path, chain: list[str]) -> None:
    """`xdeg path --json`: every image of the chain with its provenance record."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["path", "art00", "art29", "--json", "--home", str(home)]) == 0
    printed = json.loads(out.getvalue().splitlines()[0])
    assert printed["path"] == chain and list(printed["images"]) == chain
    for name, record in printed["images"].items():
        i = int(name[3:5])
        assert record == {
            "label": LABEL_29 if i == 29 else f"Painting {i}", "creator": ARTISTS[i % 3],
            "date": str(1900 + i), "credit": f"Gift of donor {i}",
            "rights": CC_BY if i % 2 else None, "link": f"https://museum.example/objects/{i}",
            "manifest": None,
        }
