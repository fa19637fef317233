"""The code location loads, with the asset keys other tooling depends on."""

from dagster import AssetKey

from xdeg_pipeline.definitions import defs

EXPECTED = ["raw_images", "image_features", "pca_features", "knn_edges", "similarity_graph",
            "requested_paths"]


def test_definitions_load_with_expected_assets() -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert set(EXPECTED) <= keys
    assert repo.has_job("find_paths") and repo.has_job("build")
    assert repo.has_sensor_def("collection_sensor")
    assert repo.has_sensor_def("xdeg_automation")  # declarative automation, switchable in UI
    assert repo.has_schedule_def("refresh_schedule")


def test_lineage_is_the_pipeline_chain() -> None:
    graph = defs.get_repository_def().asset_graph
    for up, down in zip(EXPECTED, EXPECTED[1:]):
        assert AssetKey(up) in graph.get(AssetKey(down)).parent_keys, (up, down)


def test_every_stage_has_a_check() -> None:
    graph = defs.get_repository_def().asset_graph
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert {"image_features", "pca_features", "knn_edges", "similarity_graph",
            "requested_paths"} <= checked


def test_jobs_dagster_launches_run_in_process() -> None:
    """build and find_paths (UI, sensor, schedule) run their steps in the run's own process;
    the other build jobs keep theirs."""
    from xdeg_pipeline.definitions import defs

    names = {j: defs.resolve_job_def(j).executor_def.name
             for j in ("build", "find_paths", "build_multiprocess", "build_dask")}
    assert names == {"build": "in_process", "find_paths": "in_process",
                     "build_multiprocess": "multiprocess", "build_dask": "dask"}


def test_loading_the_code_location_leaves_its_objects_out_of_collections() -> None:
    """core/collector.py: a process that loads the code location (a run's, the code server's)
    imports it with the collector off, then collects again, without walking those objects."""
    import subprocess
    import sys

    child = ("import gc\n"
             "frozen = gc.get_freeze_count()\n"
             "import xdeg_pipeline.definitions\n"
             "print(gc.get_freeze_count() > frozen + 100_000, gc.isenabled())\n")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True"]
