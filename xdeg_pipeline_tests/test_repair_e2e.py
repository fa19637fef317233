"""A data folder that heals (issue 19): a damaged output is moved aside and rebuilt from what is
still good, said in one line, and the outputs equal those of a build without the damage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline_tests.helpers.cli_builds import same_outputs, xdeg, xdeg_build
from xdeg_pipeline_tests.helpers.collections import make_collection


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """40 images built once; each test copies the data folder (times kept)."""
    root = tmp_path_factory.mktemp("repair")
    images, home = root / "images", root / "home"
    make_collection(images, 40)
    assert xdeg_build(images, home)[0] == 0
    return {"root": root, "images": images, "home": home}


def _copy(built: dict, tmp_path: Path) -> tuple[Path, Path]:
    images, home = tmp_path / "images", tmp_path / "home"
    shutil.copytree(built["images"], images)
    shutil.copytree(built["home"], home, ignore=shutil.ignore_patterns("*.lock"))
    return images, home


def test_a_truncated_shard_table_and_new_images_build_and_heal(built: dict,
                                                               tmp_path: Path) -> None:
    """The issue's case: image_features/shard=3.parquet truncated, five images added."""
    images, home = _copy(built, tmp_path / "damaged")
    ref_images, ref_home = _copy(built, tmp_path / "clean")
    files = Layout(home)
    shard = next(p for p in "3456789abcdef012"
                 if read_state(home, f"image_features.shard={p}").get("images"))
    table = files.image_features_shard(shard)
    size = table.stat().st_size
    with open(table, "r+b") as fh:
        fh.truncate(size // 2)
    for where in (images, ref_images):
        make_collection(where, 5, start=40)
    code, out, err = xdeg_build(images, home)
    assert code == 0, err
    repaired = [line for line in out.splitlines() if line.startswith("repaired: ")]
    assert len(repaired) == 1, out
    assert err == "", err  # said once: in the summary
    said = (f"image_features/shard={shard}.parquet (image_features.shard={shard}) was damaged: "
            f"{size // 2:,} bytes instead of the {size:,} bytes written; moved to damaged/")
    assert said in repaired[0]
    assert repaired[0].endswith("rewriting it from the feature cache")
    moved = list((home / "damaged").rglob(f"shard={shard}.parquet"))
    assert len(moved) == 1 and moved[0].stat().st_size == size // 2  # kept, never deleted
    assert xdeg_build(ref_images, ref_home)[0] == 0
    same_outputs(home, ref_home)
    code, out, _ = xdeg_build(images, home)  # healed: nothing more to repair
    assert code == 0 and "repaired:" not in out


MAIN_OUTPUTS = ["knn_edges.parquet", "pca_features.parquet", "similarity_graph.pkl",
                "pca_model.npz"]
OTHER_OUTPUTS = ["raw_images.parquet", "image_features.parquet", "knn_rows.parquet",
                 "near_duplicates.parquet", "thumbnails/atlas/atlas_index.parquet",
                 "collection_map.parquet"]


@pytest.mark.parametrize("name, how", [(n, h) for n in MAIN_OUTPUTS for h in ("truncate", "flip")]
                         + [(n, "truncate") for n in OTHER_OUTPUTS])
def test_every_damaged_output_is_rebuilt(built: dict, tmp_path: Path, name: str,
                                         how: str) -> None:
    images, home = _copy(built, tmp_path)
    path = home / name
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 3]
    else:  # same size, another time: the hash decides
        for i in range(len(data) // 2, len(data) // 2 + 8):
            data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    code, out, err = xdeg_build(images, home)
    assert code == 0, err
    repaired = [line for line in out.splitlines() if line.startswith("repaired: ")]
    assert any(line.startswith(f"repaired: {name} ") for line in repaired), out
    same_outputs(home, built["home"])


def test_a_damaged_feature_cache_file_is_dropped_and_recomputed(built: dict,
                                                                tmp_path: Path) -> None:
    images, home = _copy(built, tmp_path)
    files = Layout(home)
    shard = next(p for p in "0123456789abcdef"
                 if read_state(home, f"image_features.shard={p}").get("images"))
    cache = next(files.feature_cache_shard(shard).rglob("features.parquet"))
    table = files.image_features_shard(shard)
    for path in (cache, table):  # both: the shard must come back from the images
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    code, out, err = xdeg_build(images, home)
    assert code == 0, err
    repaired = [line for line in out.splitlines() if line.startswith("repaired: ")]
    assert len(repaired) == 2, out
    assert any("(feature cache) was damaged" in line and "computed again" in line
               for line in repaired)
    assert "computed, 0 reused" not in out
    same_outputs(home, built["home"])


def _flip_keeping_size_and_time(path: Path) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_verify_finds_a_flip_that_keeps_size_and_time_and_repairs_it(built: dict,
                                                                     tmp_path: Path) -> None:
    images, home = _copy(built, tmp_path)
    where = ["--home", str(home), "--images", str(images)]
    code, out, _ = xdeg("verify", *where)
    assert code == 0 and ": 0 damaged" in out
    files = Layout(home)
    cache = next(files.feature_cache.rglob("features.parquet"))
    for path in (files.knn_edges, cache):
        _flip_keeping_size_and_time(path)
    code, out, _ = xdeg_build(images, home)
    assert code == 0 and "repaired:" not in out  # stat cannot see it: the build reuses it
    code, out, err = xdeg("verify", *where)
    assert code == 1 and ": 2 damaged" in out and "--repair" in err
    assert "damaged: knn_edges.parquet (knn_edges): its content hash differs" in out
    assert f"damaged: {cache.relative_to(home).as_posix()} (feature_cache/" in out
    code, out, err = xdeg("verify", "--repair", *where)
    assert code == 0, err
    repaired = [line for line in out.splitlines() if line.startswith("repaired: ")]
    assert len(repaired) == 2 and "verified again:" in out and out.rstrip().endswith(
        ", 0 damaged")
    assert any(line.startswith("repaired: knn_edges.parquet (knn_edges) was damaged: its "
                               "content hash differs") for line in repaired), out
    same_outputs(home, built["home"])
    assert len(list((home / "damaged").rglob("*.parquet"))) == 2


def test_the_verify_job_fails_naming_the_damaged_file(built: dict, tmp_path: Path) -> None:
    from xdeg_pipeline.jobs import verify_data_folder
    from xdeg_pipeline.resources import XdegResource

    _, home = _copy(built, tmp_path)
    resource = {"xdeg": XdegResource(home=str(home), read_environment=False)}
    assert verify_data_folder.execute_in_process(resources=resource).success
    _flip_keeping_size_and_time(Layout(home).pca_features)
    result = verify_data_folder.execute_in_process(resources=resource, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert ": 1 damaged; `xdeg verify --repair` rebuilds them" in failure.message
