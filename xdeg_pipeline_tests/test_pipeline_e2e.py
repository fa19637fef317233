"""End to end: materialise every asset in-process on a generated collection, on a real
Dagster instance, then ask for paths through the find_paths job."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from dagster import DagsterInstance, materialize

from xdeg_pipeline.assets import ALL_ASSETS
from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.query import Collection
from xdeg_pipeline.core.stages import pca as pca_stage
from xdeg_pipeline.core.storage.state import fingerprint, read_state
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.collections import make_collection
from xdeg_pipeline_tests.helpers.dagster_runs import build, metadata_of


def test_build_then_find_paths(xdeg_env: dict[str, Path]) -> None:
    home = xdeg_env["home"]
    with DagsterInstance.get() as instance:
        result = build(instance)
        assert result.success
        for check in result.get_asset_check_evaluations():
            assert check.passed, check.check_name

        assert len(pd.read_parquet(home / "raw_images.parquet")) == 24
        hashes, X = read_feature_table(home / "image_features.parquet")
        assert X.shape == (24, 1280)
        _, Z = read_feature_table(home / "pca_features.parquet")
        assert Z.shape[0] == 24
        edges = pd.read_parquet(home / "knn_edges.parquet")
        assert {"source", "target", "distance"} <= set(edges.columns)
        graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
        assert graph.vcount() == 24 and graph.is_connected()
        # a query server measures steps that are not edges (a skipped series step, a pinned
        # chain's lost step) with the graph's own vectors: pca_features must be them
        vectors = Collection(home, xdeg_env["images"]).finder.space.vectors
        assert vectors is not None and len(vectors) == 24
        # the input fingerprints of data folders built before the stage runner: an upgraded
        # folder reuses its outputs (pca_features's since rows carry the residual, TRANSFORM 2)
        up = {n: read_state(home, n) for n in ("raw_images", "image_features", "pca_features",
                                                 "knn_edges", "image_outlines",
                                                 "similarity_graph")}
        assert up["pca_features"]["input_fingerprint"] == fingerprint(
            up["image_features"]["output_fingerprint"], params.PCA_COMPONENTS, pca_stage.TRANSFORM)
        assert up["knn_edges"]["input_fingerprint"] == fingerprint(  # since the rerank: rebuilt
            up["pca_features"]["output_fingerprint"], up["image_features"]["output_fingerprint"],
            params.KNN_K, params.KNN_SPACE, params.KNN_RERANK)
        assert up["similarity_graph"]["input_fingerprint"] == fingerprint(
            up["knn_edges"]["output_fingerprint"], up["raw_images"]["output_fingerprint"],
            up["image_outlines"]["output_fingerprint"],
            {k: v for k, v in vars(params).items() if k.isupper()})

        names = sorted(pd.read_parquet(home / "raw_images.parquet")["name"])
        job = defs.resolve_job_def("find_paths")
        run = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": names[0], "target": names[-1]},
                          {"source": "img_005", "target": "img_020"}],
            }}}},
        )
        assert run.success
        table = pd.read_parquet(home / "paths" / "requested_paths.parquet")
        assert len(table) == 2
        first = table.iloc[0]
        assert list(first["path"])[0] == names[0] and list(first["path"])[-1] == names[-1]
        assert Path(first["png"]).stat().st_size > 1000
        assert "<img" in Path(first["html"]).read_text(encoding="utf-8")
        meta = metadata_of(run, "requested_paths")
        assert any(k.startswith("strip_") for k in meta)


def test_rerun_recomputes_nothing_and_adding_computes_only_new(xdeg_env: dict[str, Path]) -> None:
    with DagsterInstance.get() as instance:
        first = build(instance)
        assert metadata_of(first, "image_features")["run_images_computed"] == 24

        again = build(instance)
        meta = metadata_of(again, "image_features")
        assert meta["run_images_computed"] == 0 and meta["run_images_reused"] == 24

        make_collection(xdeg_env["images"], 3, start=100)
        grown = build(instance)
        meta = metadata_of(grown, "image_features")
        assert meta["run_images_computed"] == 3
        assert meta["run_images_reused"] == 24
        assert metadata_of(grown, "similarity_graph")["vertices"] == 27

        victim = next(xdeg_env["images"].rglob("img_000.png"))
        victim.unlink()
        shrunk = build(instance)
        assert metadata_of(shrunk, "image_features")["run_images_computed"] == 0
        assert metadata_of(shrunk, "similarity_graph")["vertices"] == 26


def test_unknown_name_is_reported_not_crashing(xdeg_env: dict[str, Path]) -> None:
    with DagsterInstance.get() as instance:
        assert build(instance).success
        run = materialize(
            [*ALL_ASSETS], instance=instance, resources={"xdeg": XdegResource()},
            selection=["requested_paths"],
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": "img_0o5", "target": "img_020"}]}}}},
        )
        assert run.success
        failed = pd.read_parquet(xdeg_env["home"] / "paths" / "failed_requests.parquet")
        assert len(failed) == 1 and "img_005" in failed.iloc[0]["error"]
        assert json.dumps(metadata_of(run, "requested_paths")["failed_requests"]) == "1"
