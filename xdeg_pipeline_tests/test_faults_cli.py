"""Faults of the data folder said in one line by `xdeg build` (issue 19): a full disk (a small
tmpfs), a read-only data folder (a read-only bind mount: root ignores permission bits) and a
collection folder that vanishes mid-build. Each gives one line and exit 1, no traceback; the
build after the fault is fixed succeeds with the outputs of a clean build."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from xdeg_pipeline.core.stages import features
from xdeg_pipeline_tests.helpers.cli_builds import same_outputs, xdeg, xdeg_build
from xdeg_pipeline_tests.helpers.collections import make_collection
from xdeg_pipeline_tests.helpers.small_disk import mount, resize, small_tmpfs, umount


def step_failures(home: Path) -> list[str]:
    """The messages of the failed steps of the data folder's last run (its Dagster instance)."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        events = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        return [e.dagster_event.event_specific_data.error.message.strip() for e in events]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("faults_cli")
    images, home = root / "images", root / "home"
    make_collection(images, 30)
    assert xdeg_build(images, home)[0] == 0
    return {"images": images, "home": home, "bytes": _size(home) - _size(home / "models")}


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("xdeg: "), err
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small") as where:
        yield where


def test_a_full_disk_is_one_line_and_the_build_after_recovers(clean: dict, tmpfs: Path) -> None:
    size_kib = max(clean["bytes"] // 3 // 1024, 64)  # a third of a build (models aside)
    resize(tmpfs, size_kib)
    home = tmpfs / "home"
    code, out, err = xdeg_build(clean["images"], home)
    assert code == 1 and out == ""
    line = _one_line(err)
    assert f"the disk holding {tmpfs}/home" in line, line
    # the OS's words, or SQLite's ("database or disk is full", or as often "disk I/O error"
    # when its journal cannot grow: then the free space on that disk says it is full)
    assert any(f"is full ({why}" in line for why in (
        "No space left on device", "database or disk is full", "disk I/O error")), line
    assert line.endswith("free space and run `xdeg build` again"), line
    print(line)
    resize(tmpfs, clean["bytes"] * 3 // 1024 + 65536)
    code, out, err = xdeg_build(clean["images"], home)
    assert code == 0, err
    same_outputs(home, clean["home"])


def test_a_read_only_data_folder_is_one_line(clean: dict, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(clean["home"], home, ignore=shutil.ignore_patterns("*.lock"))
    done = mount("--bind", str(home), str(home))
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root): {done.stderr.strip()}")
    try:
        assert mount("-o", "remount,bind,ro", str(home)).returncode == 0
        code, out, err = xdeg_build(clean["images"], home)
        assert code == 1 and out == ""
        line = _one_line(err)
        assert f"{home} is on a read-only file system" in line, line
        print(line)
    finally:
        umount(home)
    code, out, err = xdeg_build(clean["images"], home)
    assert code == 0, err
    same_outputs(home, clean["home"])


def test_a_collection_folder_that_vanishes_mid_build_is_one_line(
        clean: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, home = tmp_path / "images", tmp_path / "home"
    shutil.copytree(clean["images"], images)
    shutil.copytree(clean["home"], home, ignore=shutil.ignore_patterns("*.lock"))
    make_collection(images, 4, start=30)  # new images: features to compute
    plan = features.plan_shards

    def plan_then_vanish(*args, **kwargs):
        planned = plan(*args, **kwargs)
        shutil.move(images, tmp_path / "unplugged")  # the share goes away after the scan
        return planned

    monkeypatch.setattr(features, "plan_shards", plan_then_vanish)
    code, out, err = xdeg_build(images, home)
    assert code == 1 and out == ""
    line = _one_line(err)
    assert line.startswith(f"xdeg: the collection folder {images} vanished while "), line
    print(line)
    said = line[len("xdeg: "):]  # the step fails (dagster.Failure) with the same sentence
    assert any(m == f"dagster._core.definitions.events.Failure: {said}"
               for m in step_failures(home)), step_failures(home)
    monkeypatch.setattr(features, "plan_shards", plan)
    shutil.move(tmp_path / "unplugged", images)
    code, out, err = xdeg_build(images, home)
    assert code == 0, err
    assert "0 rejected" in out


def test_a_missing_collection_folder_is_one_line(clean: dict, tmp_path: Path) -> None:
    code, out, err = xdeg_build(tmp_path / "nowhere", tmp_path / "home")
    assert code == 1 and out == ""
    assert "does not exist" in _one_line(err)


def test_the_traceback_only_with_v(tmp_path: Path) -> None:
    home = tmp_path / "a_file"
    home.write_text("not a folder")
    code, out, err = xdeg_build(tmp_path, home)
    assert code == 1 and out == ""
    line = _one_line(err)
    assert str(home) in line and line.endswith("run `xdeg build` again"), line
    with pytest.raises(OSError):
        xdeg("build", "--images", str(tmp_path), "--home", str(home), "-v")


def test_a_disk_full_while_computing_features_keeps_the_saved_ones(tmp_path: Path,
                                                                  tmpfs: Path) -> None:
    """The data folder fills up during extraction (the Dagster instance elsewhere): the step
    fails with the sentence, the chunks written before stay, and the build after computes only
    the images no chunk holds."""
    from dagster import DagsterInstance, materialize

    from xdeg_pipeline.assets import BUILD_ASSETS
    from xdeg_pipeline.core.storage.feature_store import FeatureStore
    from xdeg_pipeline.resources import XdegResource
    from xdeg_pipeline_tests.helpers.dagster_runs import metadata_of

    images, home = tmp_path / "images", tmpfs / "home"
    make_collection(images, 48)
    resource = XdegResource(home=str(home), images_dir=str(images), checkpoint_every=4,
                            runtime="torch", progress="off", read_environment=False)
    resize(tmpfs, 160)
    with DagsterInstance.ephemeral() as instance:
        first = materialize(BUILD_ASSETS, selection=["raw_images", "image_features"],
                            instance=instance, resources={"xdeg": resource},
                            raise_on_error=False)
    assert not first.success
    errors = [e.event_specific_data.error for e in first.get_step_failure_events()]
    assert any("is full (No space left on device)" in e.message for e in errors), errors
    saved = set()
    for shard in (home / "feature_cache").glob("shard=*"):
        for folder in shard.iterdir():
            if not (folder / "KEY.txt").is_file():  # the disk filled as the folder was made
                assert not any(folder.glob("chunk-*.parquet"))
                continue
            saved |= FeatureStore(shard, (folder / "KEY.txt").read_text().strip()).known()
    resize(tmpfs, 64 * 1024)
    with DagsterInstance.ephemeral() as instance:
        second = materialize(BUILD_ASSETS, selection=["raw_images", "image_features"],
                             instance=instance, resources={"xdeg": resource})
    computed = metadata_of(second, "image_features")["run_images_computed"]
    assert computed == 48 - len(saved), (computed, len(saved))
    print(f"{len(saved)} features kept, {computed} computed after the fault; {errors[0].message}")
