"""The thumbnails and collection_map assets on a real Dagster instance: built with the graph,
reused when nothing changed, only new images processed and placed after adding some; the map
picture in the metadata, and requested_paths drawing its chains over the map; `xdeg demo`
materialises requested_paths and prints the explorer's command."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetKey, DagsterInstance, materialize
from PIL import Image

from xdeg_pipeline.assets import ALL_ASSETS
from xdeg_pipeline.core.pictures.collection_map import read_map
from xdeg_pipeline.core.pictures.visuals import map_picture_png
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.collections import make_collection
from xdeg_pipeline_tests.helpers.dagster_runs import build, metadata_of
from xdeg_pipeline_tests.helpers.explorer_home import own_environment


def _build(instance: DagsterInstance):
    result = build(instance)
    assert result.success
    return result


def test_thumbnails_and_map_follow_the_collection(xdeg_env: dict[str, Path]) -> None:
    files = Layout(xdeg_env["home"])
    with DagsterInstance.get() as instance:
        first = _build(instance)
        thumbs, mapped = metadata_of(first, "thumbnails"), metadata_of(first, "collection_map")
        assert thumbs["made"] == 24 and thumbs["sheets"] == 1
        assert mapped["mode"] == "fit" and mapped["images"] == 24
        assert mapped["map"].startswith("![") and "data:image/png;base64," in mapped["map"]
        table = read_map(files.collection_map)
        hashes, _ = read_feature_table(files.pca_features)
        assert set(table["content_hash"]) == set(hashes)
        assert files.collection_map_png.read_bytes()[:4] == b"\x89PNG"

        again = _build(instance)
        assert "made" not in metadata_of(again, "thumbnails")  # reused: nothing computed
        assert read_map(files.collection_map).equals(table)

        make_collection(xdeg_env["images"], 1, start=24)
        grown = _build(instance)
        assert metadata_of(grown, "thumbnails")["made"] == 1
        placed = metadata_of(grown, "collection_map")
        assert placed["mode"] == "place" and placed["placed"] == 1 and placed["kept"] == 24
        after = read_map(files.collection_map).set_index("content_hash")
        before = table.set_index("content_hash")
        pd.testing.assert_frame_equal(after.loc[before.index], before)  # nothing moved
        assert placed["picture_drawn"] in ("the new images", "whole")
        stored = Image.open(files.collection_map_png).convert("RGB")
        whole = Image.open(io.BytesIO(map_picture_png(files))).convert("RGB")
        # as drawn whole, up to the lossy atlas sheet that gained the new image: re-encoded,
        # its old cells may move a few pixel values by a few levels
        diff = np.abs(np.asarray(stored, dtype=int) - np.asarray(whole, dtype=int))
        assert diff.max() <= 16 and (diff.max(axis=-1) > 0).mean() < 0.001

        run = materialize(
            [*ALL_ASSETS], instance=instance, resources={"xdeg": XdegResource()},
            selection=["requested_paths"],
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": "img_000", "target": "img_013"}]}}}},
        )
        assert run.success
        meta = metadata_of(run, "requested_paths")
        map_keys = [k for k in meta if k.startswith("map_")]
        assert len(map_keys) == 1 and "data:image/png;base64," in meta[map_keys[0]]
        chain_id = map_keys[0][len("map_"):]
        assert files.chain_map_png(chain_id).read_bytes()[:4] == b"\x89PNG"


def test_demo_materialises_requested_paths_and_names_the_explorer(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """... and its feature stage takes the model the demo loaded while it rendered."""
    import threading

    from xdeg_pipeline.cli import main
    from xdeg_pipeline.core.features.runtime import RuntimeChoice
    from xdeg_pipeline.runs import open_instance

    home = tmp_path / "home"
    loaded: list[str] = []  # threads that built a model runner (import, export, compile)
    build = RuntimeChoice.build

    def counted(self, *args, **kwargs):
        loaded.append(threading.current_thread().name)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(RuntimeChoice, "build", counted)
    out = io.StringIO()
    with own_environment(), contextlib.redirect_stdout(out):
        assert main(["demo", "--limit", "40", "--home", str(home)]) == 0
    assert loaded == ["xdeg-model"]  # loaded once, beside the rendering
    printed = out.getvalue()
    assert "xdeg serve" in printed and "http://127.0.0.1:8765/" in printed
    with open_instance(Layout(home)) as instance:
        event = instance.get_latest_materialization_event(AssetKey("requested_paths"))
        assert event is not None
        meta = event.asset_materialization.metadata
        assert any(k.startswith("strip_") for k in meta) and any(k.startswith("map_") for k in meta)
        assert instance.get_latest_materialization_event(AssetKey("collection_map")) is not None
    copy = tmp_path / "copy"  # a copy of the data folder, the original still in place
    shutil.copytree(home, copy)
    assert Settings(home=copy).with_built_collection().openmoji, "OpenMoji's credit is kept"
