"""End to end on a real Dagster instance: the build materialises near_duplicates (table and
metadata), and the find_paths job takes waypoints (``via``) in its run config, as the
launchpad would send them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import DagsterInstance

from xdeg_pipeline.core.stages.near_duplicates import COLUMNS
from xdeg_pipeline.definitions import defs
from xdeg_pipeline_tests.helpers.collections import make_image
from xdeg_pipeline_tests.helpers.dagster_runs import build, metadata_of


def test_near_duplicates_in_the_build_and_waypoints_in_find_paths(
    xdeg_env: dict[str, Path]
) -> None:
    home, images = xdeg_env["home"], xdeg_env["images"]
    for i in range(3):  # near-duplicates: the same picture at three sizes
        make_image(images / "copies" / f"copy_{i}.png", seed=900, size=96 + 2 * i)
    with DagsterInstance.get() as instance:
        built = build(instance)
        assert built.success
        meta = metadata_of(built, "near_duplicates")
        table = pd.read_parquet(home / "near_duplicates.parquet")
        assert list(table.columns) == COLUMNS
        assert meta["images_in_groups"] == len(table) and meta["groups"] >= 1
        copies = table[table["name"].str.startswith("copies/")]
        assert len(copies) >= 2 and copies["group"].nunique() == 1
        assert 0 < meta["near_duplicate_distance"] < meta["natural_step"]
        assert any(k.startswith("group_") for k in meta)  # an example strip

        job = defs.resolve_job_def("find_paths")
        run = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": "img_000", "target": "img_023"}],
                "via": ["img_011", "img_006"],
            }}}},
        )
        assert run.success
        row = pd.read_parquet(home / "paths" / "requested_paths.parquet").iloc[0]
        path = list(row["path"])
        assert list(row["via"]) == ["shapes/img_011.png", "more/img_006.png"]
        assert path.index("shapes/img_011.png") < path.index("more/img_006.png")
        assert len(set(path)) == len(path)

        run = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"requested_paths": {"config": {
                "pairs": [{"source": "img_000", "target": "img_023"}],
                "mode": "steps", "steps": 5, "via": ["img_011"],
            }}}},
        )
        assert run.success
        row = pd.read_parquet(home / "paths" / "requested_paths.parquet").iloc[0]
        assert row["hops"] == 6 and "shapes/img_011.png" in list(row["path"])
