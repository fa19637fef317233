"""End to end from a IIIF collection served on 127.0.0.1 (the ``iiif`` package's Image API
server and the manifests, see helpers/iiif_collection.py): ``xdeg build --iiif URL`` turns
every valid canvas into an image with its label, credit, rights and link, lists every broken
one with its reason; then 10 manifests are added and a Dagster run configured as from the
launchpad fetches only their images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance

from xdeg_pipeline.core.images.provenance import provenance
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.partitions import all_shards_tags
from xdeg_pipeline_tests.helpers.dagster_runs import metadata_of
from xdeg_pipeline_tests.helpers.iiif_collection import Published, add_manifests, publish
from xdeg_pipeline_tests.helpers.iiif_server import IIIFServer


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IIIFServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    (tmp_path / "pixels").mkdir()
    with IIIFServer(tmp_path / "pixels") as srv:
        yield srv


def _cli_build(url: str, home: Path, tmp_path: Path) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDEG_")}
    env.update(HOME=str(tmp_path), XDEG_DOWNLOAD_RETRIES="1", XDEG_PROGRESS_BAR="0",
               DAGSTER_HOME=str(tmp_path / "dagster"), PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "xdeg_pipeline.cli", "build", "--iiif", url, "--home", str(home),
         "--json"], env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), seconds


def _assert_collection(home: Path, published: Published) -> pd.DataFrame:
    """Every valid canvas is an image with its metadata; every broken one a rejection."""
    raw = pd.read_parquet(home / "raw_images.parquet")
    meta = pd.read_parquet(home / "image_metadata.parquet")
    assert sorted(meta["canvas"]) == sorted(published.valid)
    assert len(raw) == len(published.valid) and set(raw["name"]) == set(meta["name"])
    # the same picture in two manifests: one content hash, two names
    assert raw["content_hash"].nunique() == len(published.valid) - 1
    rejected = pd.read_parquet(home / "rejected_images.parquet")
    for where, reason in published.broken:
        hits = rejected[rejected["detail"].str.contains(where, regex=False)
                        & (rejected["reason"] == reason)]
        assert len(hits) == 1, (where, reason)
        assert hits["stage"].iat[0] == ("download" if reason == "http_500" else "iiif")
    assert len(rejected) == len(published.broken)
    return meta


def _assert_chain_credits(home: Path, meta: pd.DataFrame, tmp_path: Path) -> None:
    """``xdeg path --json`` between two paintings of one sub-collection, kept inside it by a
    filter: every image of the chain carries its manifest's label, credit, rights and link."""
    dutch = meta[meta["collection"] == "Museum / Paintings / Dutch"].sort_values("name")
    source, target = dutch["name"].iat[0], dutch["name"].iat[-1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDEG_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path),
               DAGSTER_HOME=str(tmp_path / "dagster"))
    done = subprocess.run(
        [sys.executable, "-m", "xdeg_pipeline.cli", "path", source, target, "--home", str(home),
         "--where", "collection=Museum / Paintings / Dutch", "--json"],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    chain = json.loads(done.stdout.strip().splitlines()[0])  # one JSON object per chain
    by_name = meta.set_index("name")
    assert chain["path"][0] == source and chain["path"][-1] == target
    for name in chain["path"]:
        row = by_name.loc[name]
        assert row["collection"] == "Museum / Paintings / Dutch"  # never leaves the filter
        shown, expected = chain["images"][name], provenance(row.to_dict())
        assert {k: shown[k] for k in ("label", "credit", "rights", "link", "manifest")} == {
            k: expected[k] for k in ("label", "credit", "rights", "link", "manifest")}
        assert shown["link"].startswith("http") and shown["credit"] and shown["manifest"]


def test_iiif_collection_from_the_cli_then_dagster(server: IIIFServer, tmp_path: Path) -> None:
    pub, published = publish(server)
    home = tmp_path / "home"
    summary, seconds = _cli_build(published.url, home, tmp_path)
    meta = _assert_collection(home, published)
    canvases = len(published.valid) + sum(r != "http_404" and r != "invalid_json"
                                          for _, r in published.broken)
    assert canvases >= 500 and summary["rejected_images"]["count"] == len(published.broken)
    # what a chain will show of an image
    record = provenance(meta.set_index("name").loc[meta["name"].iat[0]].to_dict())
    assert record["link"] == published.links[meta["canvas"].iat[0]]
    assert record["credit"] and record["rights"].startswith(("http://", "https://"))
    by_canvas = meta.set_index("canvas")
    v3 = by_canvas.loc[f"{server.doc_url('m3.json')}/canvas/1"]
    assert (v3["label"], v3["creator"], v3["date"]) == ("Painting 3", "Painter 3", "1803")
    assert v3["credit"] == "Attribution: Gallery of Tests 3"
    assert v3["collection"] == "Museum / Paintings"
    v2 = by_canvas.loc[f"{server.doc_url('m44.json')}/canvas/0"]
    assert v2["collection"] == "Museum / Paintings / Dutch"
    assert json.loads(v2["metadata"]) == {"Technique": "etching"}
    assert provenance(v2.to_dict())["credit"] == "Museum of Tests, print room 44"
    _assert_chain_credits(home, meta, tmp_path)
    print(f"\nIIIF e2e: {canvases} canvases, {len(published.broken)} rejected, CLI build "
          f"{seconds:.1f} s = {seconds / canvases * 100:.1f} s per 100 canvases")

    # 10 more manifests; a Dagster run with the resource configured as in the launchpad
    before = Counter(server.image_requests())
    new = set(add_manifests(pub))
    config = {"iiif": published.url, "home": str(home), "download_retries": 1}
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("build").execute_in_process(
            instance=instance, tags=all_shards_tags(),
            run_config={"resources": {"xdeg": {"config": config}}})
    assert result.success
    asked = {path.split("/")[3] for path in server.image_requests() - before}
    failing = server.failing
    assert new <= asked and asked <= new | failing  # the 500s are tried again: they may pass
    _assert_collection(home, published)
    facts = metadata_of(result, "raw_images")
    assert facts["downloaded"] == len(new) and facts["iiif_problems"] == 4
    print(f"IIIF e2e re-run: {sum((server.image_requests() - before).values())} image requests "
          f"({len(new)} new images, {len(failing)} failing ones tried again)")
