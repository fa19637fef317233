"""Fault injection end to end: a collection holding every odd, broken and hostile kind of file
(``helpers/faults.py``) goes through the Dagster assets on a real instance. Every good image ends
up in the graph, every broken one in ``rejected_images`` (and in the asset's metadata), the run
succeeds, duplicates are one vertex, hostile names are escaped in HTML and Markdown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from PIL import Image

from xdeg_pipeline.assets import ALL_ASSETS, BUILD_ASSETS
from xdeg_pipeline.checks import BUILD_CHECKS
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.query import Collection, PathRequest
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.dagster_runs import metadata_of
from xdeg_pipeline_tests.helpers.faults import (
    DUPLICATES,
    HOSTILE_NAMES,
    NON_UTF8_NAME,
    encode,
    make_fault_collection,
    pattern,
    vanish_after_listing,
)

VANISHING = ("gone/listed_then_deleted.png", "gone/also_gone.jpg")
# a broken file with a hostile name: it must show escaped in the rejected table
EVIL_REJECT = "evil/<img src=x onerror=alert(1)> [link](javascript:alert(2)) *b*.jpg"
NOT_REJECTED = ("ok", "ignored")
# the real bomb is rejected; Pillow's warning on opening it is expected
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The fault collection, built once (raw_images .. similarity_graph with checks)."""
    tmp = tmp_path_factory.mktemp("faults")
    home, images, dagster_home = tmp / "home", tmp / "images", tmp / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").touch()
    expected = make_fault_collection(images)
    for i, name in enumerate(VANISHING):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(encode(pattern(seed=40 + i), "PNG"))
        expected[name] = "vanished"
    (images / EVIL_REJECT).parent.mkdir(parents=True, exist_ok=True)
    (images / EVIL_REJECT).write_bytes(b"")
    expected[EVIL_REJECT] = "empty"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDEG_HOME", str(home))
        mp.setenv("XDEG_IMAGES", str(images))
        mp.setenv("DAGSTER_HOME", str(dagster_home))
        mp.delenv("XDEG_BACKBONE", raising=False)
        mp.delenv("XDEG_MANIFEST", raising=False)
        with DagsterInstance.get() as instance:
            with vanish_after_listing(images, VANISHING):
                result = materialize(
                    [*BUILD_ASSETS, *BUILD_CHECKS],
                    instance=instance,
                    resources={"xdeg": XdegResource()},
                    raise_on_error=False,
                )
            yield {
                "home": home,
                "images": images,
                "expected": expected,
                "result": result,
                "instance": instance,
            }


def test_good_images_in_graph_broken_ones_rejected_run_succeeds(built: dict) -> None:
    home, expected, result = built["home"], built["expected"], built["result"]
    assert result.success
    ok = {n for n, outcome in expected.items() if outcome == "ok"}
    bad = {n: outcome for n, outcome in expected.items() if outcome not in NOT_REJECTED}
    assert len(ok) > 30 and len(bad) > 15

    manifest = pd.read_parquet(home / "raw_images.parquet")
    assert set(manifest["name"]) == ok
    rejected = pd.read_parquet(home / "rejected_images.parquet")
    assert dict(zip(rejected["name"], rejected["reason"])) == bad
    assert set(rejected["stage"]) == {"scan"}  # whatever the scan accepts, the extractor reads
    assert rejected["detail"].str.len().gt(0).all()

    graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    assert set(graph.vs["content_hash"]) == set(manifest["content_hash"])
    assert graph.vcount() == manifest["content_hash"].nunique()
    assert graph.is_connected()
    hashes, X = read_feature_table(home / "image_features.parquet")
    assert len(hashes) == graph.vcount() and np.isfinite(X).all()
    assert set(Collection(home, built["images"]).names) == ok


def test_rejections_shown_in_dagstermetadata_of(built: dict) -> None:
    expected, result, instance = built["expected"], built["result"], built["instance"]
    n_bad = sum(outcome not in NOT_REJECTED for outcome in expected.values())
    meta = metadata_of(result, "raw_images")
    assert meta["rejected"] == n_bad
    # what the UI shows: the latest materialisation stored in the instance
    event = instance.get_latest_materialization_event(AssetKey("raw_images"))
    stored = event.asset_materialization.metadata
    assert stored["rejected"].value == n_bad
    table = stored["rejected_images"].value
    assert table == meta["rejected_images"]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == n_bad
    for reason in {o for o in expected.values() if o not in NOT_REJECTED}:
        assert reason.replace("_", "\\_") in table
    assert "bad/bomb\\_real.png" in table and "links/loop.jpg" in table
    # the hostile broken name is escaped for HTML and Markdown
    assert "<img" not in table and "&lt;img src=x onerror=alert(1)&gt;" in table
    assert "\\[link\\](javascript:alert(2))" in table and "\\*b\\*" in table


def test_odd_images_are_used(built: dict) -> None:
    manifest = pd.read_parquet(built["home"] / "raw_images.parquet").set_index("name")
    assert tuple(manifest.loc["ok/exif_rotated.jpg", ["width", "height"]]) == (80, 40)
    assert tuple(manifest.loc["ok/one_pixel.png", ["width", "height"]]) == (1, 1)
    assert tuple(manifest.loc["ok/wide_4000x1.png", ["width", "height"]]) == (4000, 1)
    assert tuple(manifest.loc["ok/tall_1x4000.png", ["width", "height"]]) == (1, 4000)
    assert manifest.loc["ok/animated.webp", "format"] == "WEBP"
    assert manifest.loc["ok/cmyk.jpg", "format"] == "JPEG"
    assert manifest.loc["ok/png_named.jpg", "format"] == "PNG"
    collection = Collection(built["home"], built["images"])
    for name in ("ok/cmyk.jpg", "ok/grey16.png", "ok/rgb16.png", "ok/palette_transparent.png",
                 "ok/rgba.png", "ok/animated.gif", "ok/animated.webp", "ok/exif_rotated.jpg",
                 "ok/one_pixel.png", "ok/wide_4000x1.png", "ok/tall_1x4000.png"):
        assert name in collection.vertex_of_name, name


def test_all_build_checks_pass(built: dict) -> None:
    failed = {
        e.check_name: {k: getattr(v, "value", v) for k, v in e.metadata.items()}
        for e in built["result"].get_asset_check_evaluations()
        if not e.passed
    }
    assert failed == {}


def test_duplicates_are_one_vertex_reached_by_every_name(built: dict) -> None:
    home = built["home"]
    manifest = pd.read_parquet(home / "raw_images.parquet")
    dup_hashes = set(manifest.loc[manifest["name"].isin(DUPLICATES), "content_hash"])
    assert len(dup_hashes) == 1
    graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    (vertex,) = graph.vs.select(content_hash=dup_hashes.pop())
    assert sorted(vertex["names"]) == sorted(DUPLICATES)

    collection = Collection(home, built["images"])
    assert {collection.vertex_of_name[collection.resolve(n)] for n in DUPLICATES} == {vertex.index}
    assert collection.resolve("copy again") == "dup/nested/copy again.png"
    (same,) = collection.find(PathRequest("dup/original.png", "dup/copy.png"))
    assert same.path == ["dup/original.png"] and same.steps == []
    for name in DUPLICATES:  # a chain starts at the name asked for, not the vertex's first name
        (chain,) = collection.find(PathRequest(name, "ok/rgb.jpg"))
        assert chain.path[0] == name and chain.path[-1] == "ok/rgb.jpg"


def test_hostile_names_stored_and_escaped(built: dict) -> None:
    home, instance = built["home"], built["instance"]
    names = set(pd.read_parquet(home / "raw_images.parquet")["name"])
    assert set(HOSTILE_NAMES) | {NON_UTF8_NAME} <= names
    script, quoted, newline = HOSTILE_NAMES[0], HOSTILE_NAMES[1], HOSTILE_NAMES[5]
    pairs = [(script, quoted), (NON_UTF8_NAME, newline)]
    run = materialize(
        [*ALL_ASSETS],
        instance=instance,
        resources={"xdeg": XdegResource()},
        selection=["requested_paths"],
        run_config={"ops": {"requested_paths": {"config": {
            "pairs": [{"source": s, "target": t} for s, t in pairs]}}}},
    )
    assert run.success
    table = pd.read_parquet(home / "paths" / "requested_paths.parquet")
    assert [(p[0], p[-1]) for p in table["path"]] == pairs
    assert len(pd.read_parquet(home / "paths" / "failed_requests.parquet")) == 0

    page = Path(table.iloc[0]["html"]).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot;" in page and '"quoted"' not in page
    for png in table["png"]:
        with Image.open(png) as im:
            assert im.width > 100
    chains_md = metadata_of(run, "requested_paths")["chains_table"]
    assert "<script>" not in chains_md and "&lt;script&gt;alert(1)&lt;/script&gt;" in chains_md
    assert "new line" in chains_md  # the newline of a name never breaks a table row


def test_file_vanishing_before_feature_extraction(xdeg_env: dict[str, Path]) -> None:
    """Listed by raw_images, deleted before image_features reads it: rejected at the features
    stage, the rest of the graph is built and every check passes."""
    home, images = xdeg_env["home"], xdeg_env["images"]
    with DagsterInstance.get() as instance:
        resources = {"xdeg": XdegResource()}
        first = materialize([*BUILD_ASSETS, *BUILD_CHECKS], instance=instance,
                            resources=resources, selection=["raw_images"])
        assert first.success
        victim = "more/img_000.png"
        (images / victim).unlink()
        rest = materialize(
            [*BUILD_ASSETS, *BUILD_CHECKS],
            instance=instance,
            resources=resources,
            selection=["image_features", "pca_features", "knn_edges", "similarity_graph"],
        )
        assert rest.success
        assert [e.check_name for e in rest.get_asset_check_evaluations() if not e.passed] == []
    rejected = pd.read_parquet(home / "rejected_images.parquet")
    assert rejected[["name", "stage", "reason"]].values.tolist() == [
        [victim, "features", "vanished"]
    ]
    assert metadata_of(rest, "image_features")["run_images_failed"] == 1
    graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    assert graph.vcount() == 23 and graph.is_connected()
