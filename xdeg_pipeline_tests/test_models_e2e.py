"""Any model, end to end on a tiny collection (24 images): timm (a CNN and a ViT),
torchvision and ONNX models with random weights saved to files, built from the CLI (settings
in the environment) and from the Dagster launchpad (the resource's config); the features equal
the model run directly; switching models recomputes and never mixes features."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance

from xdeg_pipeline import cli
from xdeg_pipeline.core.features.export import min_cosine
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.partitions import all_shards_tags
from xdeg_pipeline_tests.helpers import tiny_models as tm
from xdeg_pipeline_tests.helpers.dagster_runs import metadata_of


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[str, dict, Callable]]:
    """name -> (backbone, settings, direct features of paths)."""
    d = tmp_path_factory.mktemp("models")
    cnn = tm.save_timm(tm.TIMM_CNN, d / "cnn.pth")
    vit = tm.save_timm(tm.TIMM_VIT, d / "vit.safetensors.pth")
    r18 = tm.save_torchvision(d / "r18.pth")
    onnx_file = tm.save_onnx(d / "tiny.onnx")
    return {
        "timm-cnn": (tm.TIMM_CNN, {"weights": str(cnn), "input_size": 64},
                     lambda ps: tm.timm_direct(tm.TIMM_CNN, cnn, ps, 64)),
        "timm-vit": (tm.TIMM_VIT, {"weights": str(vit)},
                     lambda ps: tm.timm_direct(tm.TIMM_VIT, vit, ps, 32)),
        "torchvision": (tm.TORCHVISION, {"weights": str(r18), "input_size": 32},
                        lambda ps: tm.torchvision_direct(r18, ps, 32)),
        "onnx": (f"onnx:{onnx_file}", {}, lambda ps: tm.onnx_direct(onnx_file, ps)),
    }


def _cosine(home: Path, images: Path, direct: Callable) -> float:
    hashes, X = read_feature_table(home / "image_features.parquet")
    raw = pd.read_parquet(home / "raw_images.parquet").drop_duplicates("content_hash")
    path = {h: images / n for h, n in zip(raw["content_hash"], raw["name"])}
    return min_cosine(X, direct([path[h] for h in hashes]))


def test_every_kind_of_model_from_the_cli(xdeg_env: dict, models: dict,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home, images = xdeg_env["home"], xdeg_env["images"]
    keys = {}
    for label in ("timm-cnn", "timm-vit", "torchvision", "onnx", "timm-cnn"):
        backbone, settings, direct = models[label]
        monkeypatch.setenv("XDEG_BACKBONE", backbone)
        for name in ("weights", "input_size"):
            var = f"XDEG_{name.upper()}"
            if name in settings:
                monkeypatch.setenv(var, str(settings[name]))
            else:
                monkeypatch.delenv(var, raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["build", "--json"]) == 0
        facts = json.loads(out.getvalue())["image_features"]
        if label in keys:  # back to a model seen before: its features are reused
            assert facts["cache_key"] == keys[label] and facts["run_images_computed"] == 0
        else:
            assert facts["run_images_computed"] == 24 and facts["cache_key"] not in keys.values()
            keys[label] = facts["cache_key"]
        cos = _cosine(home, images, direct)
        print(f"{label}: {facts['cache_key']} min cosine {cos:.6f}")
        assert cos >= 0.999


def test_models_from_the_launchpad_config(xdeg_env: dict, models: dict, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    images = xdeg_env["images"]
    for label in ("timm-vit", "torchvision", "onnx"):
        backbone, settings, direct = models[label]
        home = tmp_path / label
        config = {"images_dir": str(images), "home": str(home), "backbone": backbone,
                  **settings}
        with DagsterInstance.ephemeral() as instance:
            result = defs.resolve_job_def("build").execute_in_process(
                instance=instance, tags=all_shards_tags(),
                run_config={"resources": {"xdeg": {"config": config}}})
        assert result.success
        assert metadata_of(result, "image_features")["backbone"] == backbone
        cos = _cosine(home, images, direct)
        print(f"launchpad {label}: min cosine {cos:.6f}")
        assert cos >= 0.999
