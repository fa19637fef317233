"""requested_paths with a filter (the find_paths config's ``where``): answered chains stay
inside it; a pair with no chain inside it, or a bad filter, is a row of failed_requests."""

from __future__ import annotations

import pandas as pd

from xdeg_pipeline.assets.paths import FindPathsConfig
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Reporter
from xdeg_pipeline.core.stages.paths import requested_paths
from xdeg_pipeline.core.storage.integrity import record, relative
from xdeg_pipeline.core.storage.state import read_state, write_state
from xdeg_pipeline_tests.helpers.alternatives import unbeaten_alternatives
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


def test_a_refresh_answers_the_earlier_chain_again(metadata_home: dict) -> None:
    """requested_paths keeps every chain it answered (answered_chains.parquet): the next run
    answers it again while it holds, says when it changed and why, and starts afresh (with a
    warning) from an unreadable table."""
    from xdeg_pipeline.core.query import Collection

    settings = Settings.from_env(environ={}, home=metadata_home["home"],
                                 images_dir=metadata_home["images"])
    layout = settings.layout
    layout.answered_chains.unlink(missing_ok=True)  # the home is shared by the module's tests
    collection = Collection(metadata_home["home"], metadata_home["images"])
    names = collection.names
    pairs = unbeaten_alternatives(collection)
    assert pairs
    a, b, best, other = pairs[0]
    (c, d), options = (names[1], names[-2]), {"alternatives": 2}
    first = requested_paths(settings, [(a, b), (c, d)], options)
    assert first.state["earlier_chains_kept"] == 0 and first.state["earlier_chains_changed"] == 0
    answered = pd.read_parquet(layout.answered_chains)
    assert len(answered) == 2 and list(answered["path"][0]) == best
    ids = list(answered["chain_id"])
    # as if the graph had answered the alternative before, and an image had gone since (the
    # table recorded as the stage records its outputs, or the runner sets it aside as damaged)
    pd.DataFrame({"chain_id": ids, "path": [other, [c, "gone.png", d]]}).to_parquet(
        layout.answered_chains)
    state = read_state(layout.home, "requested_paths")
    state["outputs"][relative(layout.home, layout.answered_chains)] = record(
        layout.answered_chains)
    write_state(layout.home, "requested_paths", state)
    requested_paths(settings, [(a, b)], {"alternatives": 1})  # another request: its own row
    second = requested_paths(settings, [(a, b), (c, d)], options)
    table = pd.read_parquet(layout.requested_paths).set_index("chain_id")
    assert list(table.loc[ids[0], "path"]) == other
    assert table.loc[ids[0], "earlier"] == {"kept": True, "reason": None}
    assert "no longer in the collection" in table.loc[ids[1], "earlier"]["reason"]
    assert second.state["earlier_chains_kept"] == 1
    assert second.state["earlier_chains_changed"] == 1
    assert len(pd.read_parquet(layout.answered_chains)) == 3

    layout.answered_chains.write_bytes(b"not parquet")  # damaged: set aside, said, started again
    warnings: list[str] = []
    third = requested_paths(settings, [(a, b)], options, Reporter(warn=warnings.append))
    assert third.state["earlier_chains_kept"] == 0
    assert any("answered_chains.parquet" in w for w in warnings), warnings
    assert len(pd.read_parquet(layout.answered_chains)) == 1
    layout.answered_chains.unlink()


def test_a_chain_the_explorer_answered_is_answered_again(metadata_home: dict) -> None:
    """A request requested_paths has not answered but the explorer has (paths/
    explorer_chains.parquet) gets the explorer's chain while it holds; requested_paths' own
    answer comes first once it has one."""
    from xdeg_pipeline.core.query import Collection, PathRequest, chain_id

    settings = Settings.from_env(environ={}, home=metadata_home["home"],
                                 images_dir=metadata_home["images"])
    layout = settings.layout
    layout.answered_chains.unlink(missing_ok=True)  # the home is shared by the module's tests
    found = unbeaten_alternatives(Collection(metadata_home["home"], metadata_home["images"]))
    assert found
    a, b, best, other = found[0]
    layout.paths_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"chain_id": [chain_id(PathRequest(a, b))], "path": [other]}).to_parquet(
        layout.explorer_chains)
    try:
        first = requested_paths(settings, [(a, b)])
        assert first.state["earlier_chains_kept"] == 1
        assert list(pd.read_parquet(layout.requested_paths)["path"][0]) == other
        pd.DataFrame({"chain_id": [chain_id(PathRequest(a, b))], "path": [best]}).to_parquet(
            layout.answered_chains)
        state = read_state(layout.home, "requested_paths")
        state["outputs"][relative(layout.home, layout.answered_chains)] = record(
            layout.answered_chains)
        write_state(layout.home, "requested_paths", state)
        requested_paths(settings, [(a, b)])  # its own answer first
        assert list(pd.read_parquet(layout.requested_paths)["path"][0]) == best
    finally:
        layout.explorer_chains.unlink(missing_ok=True)
        layout.answered_chains.unlink(missing_ok=True)


def test_without_the_graphs_vectors_it_says_so(tmp_path) -> None:
    """pca_features from another build: the chains are answered, and the stage says that
    they skip no series step (one line, no traceback)."""
    from xdeg_pipeline.core.storage.feature_table import write_feature_table
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline.core.storage.tables import read_feature_table
    from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

    home = build_synthetic_home(tmp_path, n=60, seed=3, vectors=True)
    settings = Settings.from_env(environ={}, home=home["home"], images_dir=home["images"])
    pair = [(home["names"][0], home["names"][-1])]
    said: list[str] = []
    requested_paths(settings, pair, {}, Reporter(warn=said.append))
    assert not [w for w in said if "series steps" in w], said
    layout = Layout(home["home"])
    hashes, X = read_feature_table(layout.pca_features)
    write_feature_table(hashes, X * 2, layout.pca_features)  # as if another build wrote it
    result = requested_paths(settings, pair, {}, Reporter(warn=said.append))
    assert result.state["failed_requests"] == 0
    assert [w for w in said if "not the graph's space" in w and "series steps" in w], said
