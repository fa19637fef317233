"""The build on a real Dask cluster (two worker processes) through dagster-dask gives the same
outputs as a single-process build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, execute_job, materialize, reconstructable

from xdeg_pipeline.assets import BUILD_ASSETS
from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.storage.tables import read_feature_table
from xdeg_pipeline.definitions import build_dask_job
from xdeg_pipeline.partitions import all_shards_tags
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline_tests.helpers.collections import make_collection


@pytest.fixture
def dask_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    images = tmp_path / "images"
    make_collection(images, 20)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").touch()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("XDEG_HOME", str(tmp_path / "unused"))
    monkeypatch.delenv("XDEG_IMAGES", raising=False)
    monkeypatch.delenv("XDEG_BACKBONE", raising=False)
    return {"images": images, "local": tmp_path / "local", "dask": tmp_path / "dask"}


def _materialisations(result, key: str) -> list:
    return [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization
        and e.event_specific_data.materialization.asset_key.to_user_string() == key
    ]


def test_dask_build_equals_single_process_build(dask_env: dict[str, Path]) -> None:
    from dask.distributed import LocalCluster

    images = str(dask_env["images"])
    with DagsterInstance.get() as instance:
        local = materialize(
            BUILD_ASSETS,
            instance=instance,
            resources={"xdeg": XdegResource(home=str(dask_env["local"]), images_dir=images)},
            tags=all_shards_tags(),
        )
        assert local.success
        with LocalCluster(  # 2 threads each: shards of one worker run side by side (their
            n_workers=2,    # features must still equal the one-process build's), and a Dagster
            threads_per_worker=2,  # step holding a thread leaves the shards both processes
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            assert len(cluster.workers) == 2
            result = execute_job(
                reconstructable(build_dask_job),
                instance=instance,
                run_config={
                    "execution": {
                        "config": {"cluster": {"existing": {"address": cluster.scheduler_address}}}
                    },
                    "resources": {
                        "xdeg": {"config": {"home": str(dask_env["dask"]), "images_dir": images}}
                    },
                },
                tags=all_shards_tags(),
            )
        assert result.success
        mats = _materialisations(result, "image_features")
        assert sorted(m.partition for m in mats) == list("0123456789abcdef")
        meta = {k: getattr(v, "value", v) for k, v in mats[0].metadata.items()}
        assert meta["run_images_computed"] == 20 and meta["shards_computed"] == 16
        assert meta["shard_processes"] == 2  # shards ran in both worker processes

    a, b = dask_env["local"], dask_env["dask"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "raw_images.parquet").drop(columns=["mtime_ns"]),
        pd.read_parquet(b / "raw_images.parquet").drop(columns=["mtime_ns"]),
    )
    for table in ["image_features.parquet", "pca_features.parquet"]:
        ha, Xa = read_feature_table(a / table)
        hb, Xb = read_feature_table(b / table)
        assert ha == hb and len(ha) == 20
        np.testing.assert_allclose(Xa, Xb, atol=1e-5)
    for shard in (a / "image_features").glob("shard=*.parquet"):
        ha, Xa = read_feature_table(shard)
        hb, Xb = read_feature_table(b / "image_features" / shard.name)
        assert ha == hb and all(h[0] == shard.stem[-1] for h in ha)
    ea, eb = pd.read_parquet(a / "knn_edges.parquet"), pd.read_parquet(b / "knn_edges.parquet")
    cols = ["source", "target", "rank"]
    pd.testing.assert_frame_equal(ea[cols], eb[cols])
    np.testing.assert_allclose(ea["distance"], eb["distance"], atol=1e-5)
    ga = load_graph(a / "similarity_graph.pkl", allowed_root=a)
    gb = load_graph(b / "similarity_graph.pkl", allowed_root=b)
    assert ga.vcount() == gb.vcount() == 20 and gb.is_connected()
    assert sorted(ga.get_edgelist()) == sorted(gb.get_edgelist())
    assert ga.vs["content_hash"] == gb.vs["content_hash"]
