"""Settings: one table of variables, overrides over the environment, typed values, clear errors,
the paths derived from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.features.spec import ModelOptions
from xdeg_pipeline.core.settings import SETTINGS, Settings, SettingsError


def test_the_table_names_every_field_once() -> None:
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(s.field for s in SETTINGS) == sorted(fields)
    envs = [s.env for s in SETTINGS]
    assert len(set(envs)) == len(envs) and all(e.startswith("XDEG_") for e in envs)
    assert all(s.meaning and s.default for s in SETTINGS)


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({}, home=tmp_path)
    assert s.home == tmp_path.resolve() and s.backbone == "efficientnet_lite0"
    assert (s.pca_components, s.k, s.checkpoint_every) == (params.PCA_COMPONENTS,
                                                          params.KNN_K, 512)
    assert s.combined_features is True and s.progress == "auto"
    assert s.images_root == tmp_path.resolve() / "openmoji" / "images" and s.openmoji
    assert s.download_options() == {
        "workers": 8, "timeout": 20.0, "total_timeout": 120.0, "retries": 3,
        "max_bytes": 50 * 2**20, "retry_failed_after": 24 * 3600.0,
    }
    assert Settings.from_env({}).home == Settings().home


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        "XDEG_HOME": str(tmp_path / "h"), "XDEG_IMAGES": str(tmp_path / "imgs"),
        "XDEG_URL_COLUMN": "link", "XDEG_BACKBONE": "resnet18", "XDEG_WEIGHTS": "/w.pth",
        "XDEG_DEVICE": "cpu", "XDEG_BATCH_SIZE": "4", "XDEG_NUM_WORKERS": "0",
        "XDEG_PCA_COMPONENTS": "0", "XDEG_K": "7", "XDEG_CHECKPOINT_EVERY": "16",
        "XDEG_COMBINED_FEATURES": "0", "XDEG_DOWNLOAD_WORKERS": "2",
        "XDEG_DOWNLOAD_TIMEOUT": "0.5", "XDEG_DOWNLOAD_TOTAL_TIMEOUT": "2",
        "XDEG_DOWNLOAD_RETRIES": "1", "XDEG_DOWNLOAD_MAX_MB": "1.5",
        "XDEG_DOWNLOAD_RETRY_HOURS": "0.5", "XDEG_REFRESH_CRON": "*/5 * * * *",
        "XDEG_PROGRESS_BAR": "lines", "XDEG_RUNTIME": "OpenVINO",
        "XDEG_IIIF_CANVASES": "First", "XDEG_IIIF_SIZE": "256", "XDEG_LANGUAGE": "fr",
        "XDEG_ALLOWED_HOSTS": "xdeg.lab.org",
        "XDEG_PRETRAINED_DOWNLOAD": "1", "XDEG_INPUT_SIZE": "64", "XDEG_MEAN": "0.5,0.5, 0.5",
        "XDEG_STD": "0.25,0.25,0.25", "XDEG_CROP_PCT": "0.9", "XDEG_INTERPOLATION": "Bicubic",
        "XDEG_VECTORS": str(tmp_path / "v.parquet"), "XDEG_VECTORS_COLUMN": "emb",
        "XDEG_KNN_PARTITION_ABOVE": "5000",
    }
    assert {s.env for s in SETTINGS} - set(env) == {"XDEG_MANIFEST", "XDEG_IIIF"}
    s = Settings.from_env(env)
    assert s.home == tmp_path / "h" and s.images_root == tmp_path / "imgs" and not s.openmoji
    assert (s.url_column, s.backbone, s.weights, s.device) == ("link", "resnet18", "/w.pth", "cpu")
    assert (s.batch_size, s.num_workers, s.pca_dims, s.k, s.checkpoint_every) == (4, 0, None, 7,
                                                                                  16)
    assert s.knn_partition_above == 5000
    assert s.combined_features is False and s.refresh_cron == "*/5 * * * *"
    assert s.download_options() == {
        "workers": 2, "timeout": 0.5, "total_timeout": 2.0, "retries": 1,
        "max_bytes": int(1.5 * 2**20), "retry_failed_after": 1800.0,
    }
    assert s.progress == "lines" and s.progress_mode(terminal=True) == "lines"
    assert s.runtime == "openvino" and s.allowed_hosts == "xdeg.lab.org"
    assert s.iiif_options() == {"size": 256, "first_only": True, "language": "fr",
                                **s.download_options()}
    assert s.extractor_options() == {"backbone": "resnet18", "weights": "/w.pth",
                                     "device": "cpu", "batch_size": 4, "num_workers": 0,
                                     "runtime": "openvino",
                                     "model_cache": str(tmp_path / "h" / "models"),
                                     "model_options": ModelOptions(
                                         64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 0.9,
                                         "bicubic", True)}
    assert (s.vectors, s.vectors_column) == (tmp_path / "v.parquet", "emb")
    with pytest.raises(SettingsError, match="XDEG_MEAN"):
        Settings.from_env({"XDEG_MEAN": "0.5,0.5"})
    with pytest.raises(SettingsError, match="XDEG_BACKBONE.*timm:<architecture>"):
        Settings.from_env({"XDEG_BACKBONE": "keras:resnet"})
    assert Settings.from_env({"XDEG_BACKBONE": "timm:vit_base?img_size=64"}).backbone


def test_overrides_win_and_none_means_not_given(tmp_path: Path) -> None:
    env = {"XDEG_HOME": str(tmp_path / "env"), "XDEG_K": "7", "XDEG_BATCH_SIZE": "4"}
    s = Settings.from_env(env, home=str(tmp_path / "flag"), k=9, batch_size=None)
    assert s.home == tmp_path / "flag" and s.k == 9 and s.batch_size == 4
    with pytest.raises(TypeError, match="unknown settings: colour"):
        Settings.from_env(env, colour="red")


def test_manifest_and_folder_precedence(tmp_path: Path) -> None:
    env = {"XDEG_HOME": str(tmp_path), "XDEG_IMAGES": str(tmp_path / "folder"),
           "XDEG_MANIFEST": str(tmp_path / "art.csv")}
    s = Settings.from_env(env)  # a manifest wins over XDEG_IMAGES
    assert s.manifest == tmp_path / "art.csv"
    assert s.images_root == tmp_path / "downloads" / "images" == s.layout.downloaded_images
    assert not s.openmoji
    explicit = Settings.from_env(env, images_dir=tmp_path / "other")  # ... not over a folder given
    assert explicit.manifest is None and explicit.images_root == tmp_path / "other"
    both = Settings.from_env(env, images_dir=tmp_path / "x", manifest=tmp_path / "m.csv")
    assert both.manifest == tmp_path / "m.csv"


def test_iiif_source_precedence(tmp_path: Path) -> None:
    url = "https://iiif.example.org/collection/top"
    env = {"XDEG_HOME": str(tmp_path), "XDEG_IMAGES": str(tmp_path / "folder"),
           "XDEG_IIIF": url}
    s = Settings.from_env(env)  # a IIIF source wins over XDEG_IMAGES, like a manifest
    assert s.iiif == url and s.images_root == s.layout.downloaded_images and not s.openmoji
    assert Settings.from_env(env, images_dir=tmp_path / "x").iiif is None  # a folder given wins
    given = Settings.from_env({**env, "XDEG_MANIFEST": str(tmp_path / "m.csv")},
                              iiif="museum.json")  # a flag wins over the other variables
    assert given.manifest is None and given.iiif == str(Path("museum.json").resolve())
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({**env, "XDEG_MANIFEST": str(tmp_path / "m.csv")})
    with pytest.raises(SettingsError, match="XDEG_IIIF_CANVASES"):
        Settings.from_env({"XDEG_IIIF_CANVASES": "some"})


@pytest.mark.parametrize("value, mode", [("1", "bar"), ("0", "off"), ("bar", "bar"),
                                         ("lines", "lines"), ("off", "off"), ("auto", "auto")])
def test_progress_values(value: str, mode: str) -> None:
    s = Settings.from_env({"XDEG_PROGRESS_BAR": value})
    assert s.progress == mode
    if mode == "auto":
        assert s.progress_mode(True) == "bar" and s.progress_mode(False) == "off"
        assert s.progress_mode(False, fallback="lines") == "lines"


@pytest.mark.parametrize("env, message", [
    ({"XDEG_BATCH_SIZE": "eight"}, "XDEG_BATCH_SIZE: cannot read 'eight'"),
    ({"XDEG_DOWNLOAD_TIMEOUT": "soon"}, "XDEG_DOWNLOAD_TIMEOUT: cannot read"),
    ({"XDEG_COMBINED_FEATURES": "maybe"}, "XDEG_COMBINED_FEATURES: cannot read"),
    ({"XDEG_PROGRESS_BAR": "fancy"}, "XDEG_PROGRESS_BAR: cannot read"),
    ({"XDEG_K": "0"}, r"k \(XDEG_K\) must be an integer >= 1"),
    ({"XDEG_CHECKPOINT_EVERY": "-3"}, r"checkpoint_every \(XDEG_CHECKPOINT_EVERY\)"),
    ({"XDEG_DOWNLOAD_MAX_MB": "0"}, r"download_max_mb \(XDEG_DOWNLOAD_MAX_MB\) must be > 0"),
])
def test_bad_values_name_the_variable(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_bad_overrides_name_the_field() -> None:
    with pytest.raises(SettingsError, match="batch_size: expected an integer"):
        Settings.from_env({}, batch_size=2.5)
    with pytest.raises(SettingsError, match="k: expected a number"):
        Settings.from_env({}, k=True)
    assert Settings.from_env({}, download_timeout=3).download_timeout == 3.0


def test_runtime_setting() -> None:
    assert Settings.from_env({}).runtime == "auto"
    assert Settings.from_env({}, runtime="torch").runtime == "torch"
    with pytest.raises(SettingsError, match="XDEG_RUNTIME: cannot read 'tensorrt'"):
        Settings.from_env({"XDEG_RUNTIME": "tensorrt"})
    with pytest.raises(SettingsError, match=r"runtime \(XDEG_RUNTIME\)"):
        Settings(runtime="cuda")


def test_empty_variables_are_unset() -> None:
    s = Settings.from_env({"XDEG_BATCH_SIZE": "", "XDEG_DEVICE": "  "})
    assert s.batch_size is None and s.device is None


def test_the_readme_table_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0].strip("| `"): line for line in section.splitlines()
            if line.startswith("| `XDEG_")}
    assert set(rows) == {s.env for s in SETTINGS}
    for s in SETTINGS:
        cells = [c.strip() for c in rows[s.env].strip("|").split(" | ")]
        assert cells[1] == ("—" if s.field == "refresh_cron" else f"`{s.field}`"), s.env
        assert cells[3] == s.default and cells[4] == s.meaning, s.env


def test_the_built_collection_is_named_only_where_it_is_another_folder(tmp_path: Path) -> None:
    """A data folder built from a folder of its own names it; one built from its OpenMoji
    set (however the path was spelled, or in the data folder it was copied from) or from a
    folder that is gone keeps the default."""
    from xdeg_pipeline.core.storage.state import write_state

    home, other = tmp_path / "home", tmp_path / "pictures"
    other.mkdir()
    base = Settings(home=home)
    assert base.with_built_collection() == base  # nothing built yet
    write_state(home, "raw_images", {"root": str(other)})
    assert base.with_built_collection().images_root == other
    assert not base.with_built_collection().openmoji
    given = base.replace(images_dir=tmp_path)
    assert given.with_built_collection() == given  # a setting given wins
    moji = home / "openmoji" / "images"
    moji.mkdir(parents=True)
    write_state(home, "raw_images", {"root": str(home / "openmoji" / ".." / "openmoji" / "images")})
    assert base.with_built_collection() == base and base.openmoji
    write_state(home, "raw_images", {"root": str(tmp_path / "gone")})
    assert base.with_built_collection() == base
    original = tmp_path / "original" / "openmoji" / "images"  # this data folder is a copy
    original.mkdir(parents=True)
    write_state(home, "raw_images", {"root": str(original), "openmoji": True})
    assert base.with_built_collection() == base and base.openmoji
