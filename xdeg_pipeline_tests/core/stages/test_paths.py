"""requested_paths with a filter (the find_paths config's ``where``): answered chains stay
inside it; a pair with no chain inside it, or a bad filter, is a row of failed_requests."""

from __future__ import annotations

import pandas as pd

from xdeg_pipeline.assets.paths import FindPathsConfig
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stages.paths import requested_paths
from xdeg_pipeline_tests.helpers.metadata_home import LONELY, year_of


def test_requested_paths_where(metadata_home: dict) -> None:
    names = metadata_home["names"]
    early = [n for i, n in enumerate(names) if year_of(i) < 1900]
    late = next(n for n in names if n not in early)
    settings = Settings.from_env(environ={}, home=metadata_home["home"],
                                 images_dir=metadata_home["images"])
    config = FindPathsConfig(where=["date<1900"], pairs=[
        {"source": early[0], "target": early[-1]}, {"source": early[4], "target": early[30]},
        {"source": early[2], "target": late}])
    assert config.options()["where"] == ("date<1900",)
    pairs = [(p.source, p.target) for p in config.pairs]
    result = requested_paths(settings, pairs, config.options())
    layout = settings.layout
    table = pd.read_parquet(layout.requested_paths)
    assert len(table) == 2 and all(list(w) == ["date<1900"] for w in table["where"])
    for path in table["path"]:
        assert set(path) <= set(early), list(path)
    failed = pd.read_parquet(layout.failed_requests)
    assert list(failed["target"]) == [late]
    assert "outside the filter date<1900" in failed["error"][0]
    assert result.state["failed_requests"] == 1

    lonely = FindPathsConfig(where=[f"creator={LONELY}"]).options()
    requested_paths(settings, [metadata_home["lonely"], (early[0], early[1])], lonely)
    failed = pd.read_parquet(layout.failed_requests)
    assert failed["error"][0].startswith("no chain") and len(failed) == 2
    requested_paths(settings, [(early[0], early[1])], {"where": ("date<=never",)})
    assert "compares numbers" in pd.read_parquet(layout.failed_requests)["error"][0]


def test_find_paths_job_takes_where(metadata_home: dict, monkeypatch) -> None:
    """The find_paths job with ``where`` in its run config, as the launchpad sends it."""
    from dagster import DagsterInstance

    from xdeg_pipeline.definitions import defs

    names = metadata_home["names"]
    early = [n for i, n in enumerate(names) if year_of(i) < 1800]
    monkeypatch.setenv("XDEG_HOME", str(metadata_home["home"]))
    monkeypatch.setenv("XDEG_IMAGES", str(metadata_home["images"]))
    monkeypatch.delenv("XDEG_MANIFEST", raising=False)
    config = {"pairs": [{"source": early[0], "target": early[-1]},
                        {"source": metadata_home["lonely"][0],
                         "target": metadata_home["lonely"][1]}],
              "where": ["date<1800"], "alternatives": 2}
    with DagsterInstance.ephemeral() as instance:
        run = defs.resolve_job_def("find_paths").execute_in_process(
            instance=instance, run_config={"ops": {"requested_paths": {"config": config}}})
    assert run.success
    layout = Settings.from_env(environ={}, home=metadata_home["home"]).layout
    table = pd.read_parquet(layout.requested_paths)
    assert len(table) >= 2 and all(set(p) <= set(early) for p in table["path"])
    assert list(table["where"][0]) == ["date<1800"]
    assert pd.read_parquet(layout.failed_requests).empty  # both lonely images are early
