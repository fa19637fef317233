"""The ``xdeg`` command on a built collection: ``build --json`` reports the rejected images,
``path`` resolves names (unknown, ambiguous, equal, outside the collection), answers
``--pairs`` in input order, writes ``--png``/``--html``, and never unpickles a graph from
outside the data folder."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PIL import Image

from xdeg_pipeline import cli
from xdeg_pipeline.core.query import Collection
from xdeg_pipeline_tests.helpers.collections import make_collection, make_image

NEWLINE_NAME = "names/new\nline.png"
TAG_NAME = "names/<i>tag & 'quote'.png"
BROKEN = {"bad/empty.png": ("empty", b""), "bad/text.jpg": ("not_an_image", b"not an image\n")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """20 generated images, two ``cat`` stems, two hostile names and two broken files, built
    once with ``xdeg build --json`` (in process)."""
    tmp = tmp_path_factory.mktemp("cli")
    paths = {name: tmp / name for name in ("home", "images", "dagster")}
    paths["dagster"].mkdir()
    (paths["dagster"] / "dagster.yaml").touch()
    images = paths["images"]
    make_collection(images, 20)
    for i, name in enumerate(("a/cat.png", "b/cat.png", NEWLINE_NAME, TAG_NAME)):
        make_image(images / name, seed=500 + i)
    for name, (_, data) in BROKEN.items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDEG_HOME", str(paths["home"]))
        mp.setenv("XDEG_IMAGES", str(images))
        mp.setenv("DAGSTER_HOME", str(paths["dagster"]))
        mp.setenv("XDEG_PROGRESS_BAR", "0")
        mp.delenv("XDEG_BACKBONE", raising=False)
        mp.delenv("XDEG_MANIFEST", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["build", "--json"])
        assert code == 0
        yield {**paths, "summary": json.loads(out.getvalue())}


@pytest.fixture(autouse=True)
def _restore_env(built: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """``xdeg`` writes its options into os.environ: put them back after each test."""
    monkeypatch.setenv("XDEG_HOME", str(built["home"]))
    monkeypatch.setenv("XDEG_IMAGES", str(built["images"]))
    monkeypatch.setenv("DAGSTER_HOME", str(built["dagster"]))


def _xdeg(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_json_reports_rejected_images(
    built: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = built["summary"]
    rejected = summary["rejected_images"]
    assert rejected["count"] == 2
    assert rejected["by_reason"] == {"empty": 1, "not_an_image": 1}
    assert {(r["name"], r["stage"], r["reason"]) for r in rejected["rows"]} == {
        (name, "scan", reason) for name, (reason, _) in BROKEN.items()
    }
    assert all(r["detail"] for r in rejected["rows"])
    assert summary["raw_images"]["rejected"] == 2
    assert summary["similarity_graph"]["vertices"] == 24
    assert all(check["passed"] for check in summary["checks"].values())

    code, out, _ = _xdeg(capsys, "build")  # the text summary lists them too
    assert code == 0
    assert "rejected_images: 2" in out
    assert "  bad/empty.png: scan empty (zero-byte file)" in out


def test_build_without_any_usable_image_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, home = tmp_path / "broken", tmp_path / "home"
    for name, (_, data) in BROKEN.items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(data)
    code, out, err = _xdeg(capsys, "build", "--json", "--images", str(images), "--home", str(home))
    assert code == 1
    report = json.loads(out)
    assert report["step"] == "raw_images" and "no usable image" in report["error"]
    assert report["rejected_images"]["count"] == 2
    assert err.splitlines()[-1].startswith("xdeg: build failed in raw_images: ValueError: no")

    code, out, err = _xdeg(capsys, "build", "--images", str(tmp_path / "nowhere"),
                           "--home", str(home))
    assert code == 1 and out == ""
    assert "does not exist" in err.splitlines()[-1]


def test_unknown_name_exits_2_naming_closest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _xdeg(capsys, "path", "img_0o5", "img_010")
    assert code == 2 and out == ""
    assert "no image named 'img_0o5'" in err and "'shapes/img_005.png'" in err


def test_ambiguous_stem_lists_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _xdeg(capsys, "path", "cat", "img_001")
    assert code == 2 and out == ""
    assert "'cat' matches 2 images: 'a/cat.png', 'b/cat.png'" in err
    code, out, _ = _xdeg(capsys, "path", "a/cat", "img_001", "--json")
    assert code == 0 and json.loads(out)["path"][0] == "a/cat.png"


def test_source_equal_to_target_is_a_one_image_chain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _xdeg(capsys, "path", "img_003", "shapes/img_003.png", "--json")
    assert code == 0
    (line,) = out.splitlines()
    chain = json.loads(line)
    assert chain["path"] == ["shapes/img_003.png"] and chain["hops"] == 0 and chain["steps"] == []
    code, out, _ = _xdeg(capsys, "path", "img_003", "img_003")
    assert code == 0 and "0. shapes/img_003.png" in out and "0 steps" in out


def test_path_json_images_of_a_folder_know_only_their_labels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_013", "--json")
    assert code == 0
    chain = json.loads(out.splitlines()[0])
    assert list(chain["images"]) == chain["path"]
    for name, record in chain["images"].items():
        assert record == {"label": Path(name).stem, "creator": None, "date": None,
                          "credit": None, "rights": None, "link": None, "manifest": None}
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_013")
    assert code == 0 and "Credits" not in out  # nothing to credit: no credits line


def test_a_data_folder_alone_is_never_taken_for_the_openmoji_set(
    built: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the data folder named (no images setting): its chains are of the folder it was
    built from, with that folder's labels, not OpenMoji's captions and credit line."""
    monkeypatch.delenv("XDEG_IMAGES")
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_013", "--json", "--home",
                         str(built["home"]))
    assert code == 0
    chain = json.loads(out.splitlines()[0])
    assert all(r["credit"] is None and r["label"] == Path(n).stem
               for n, r in chain["images"].items())
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_013", "--home", str(built["home"]))
    assert code == 0 and "OpenMoji" not in out and "Credits" not in out


def test_names_outside_the_collection_are_refused(
    built: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = built["images"] / "more" / "img_000.png"
    for query in ("../images/more/img_000.png", str(inside), "/etc/passwd",
                  "more/../../secret.png", "~/img_000.png"):
        code, out, err = _xdeg(capsys, "path", query, "img_001")
        assert code == 2 and out == "", query
        assert "is not a name inside the collection" in err, query


def test_pairs_file_gives_one_json_line_per_pair_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = [
        ("img_000", "img_011"),
        ("nope_xyz", "img_001"),
        ("img_004", "img_004"),
        ("cat", "img_002"),
        ("../x.png", "img_001"),
        (TAG_NAME, "b/cat.png"),
        ("img_007", NEWLINE_NAME),
    ]
    failing = {1, 3, 4}
    csv_file = tmp_path / "pairs.csv"
    with open(csv_file, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "target", "note"])
        writer.writerows([(s, t, "x") for s, t in pairs])
    code, out, err = _xdeg(capsys, "path", "--pairs", str(csv_file), "--json")
    assert code == 2  # some pairs failed; the others were still answered
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["source"], d["target"]) for d in lines] == pairs
    for i, d in enumerate(lines):
        if i in failing:
            assert "error" in d and "path" not in d
        else:
            assert "error" not in d and d["hops"] == len(d["path"]) - 1
    assert lines[5]["path"][0] == TAG_NAME and lines[6]["path"][-1] == NEWLINE_NAME
    assert err.count("xdeg: ") == len(failing)

    code, out, err = _xdeg(capsys, "path", "--pairs", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read pairs" in err and "Traceback" not in err
    (tmp_path / "bad.csv").write_text("from,to\na,b\n", encoding="utf-8")
    code, out, err = _xdeg(capsys, "path", "--pairs", str(tmp_path / "bad.csv"))
    assert code == 2 and "source,target" in err


def test_png_and_html_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, page = tmp_path / "out" / "chain.png", tmp_path / "out" / "chain.html"
    png.parent.mkdir()
    code, out, _ = _xdeg(capsys, "path", "img_000", TAG_NAME, "--png", str(png),
                         "--html", str(page), "--json")
    assert code == 0
    chain = json.loads(out)
    assert chain["png"] == str(png) and chain["html"] == str(page)
    with Image.open(png) as im:
        im.verify()
        assert im.format == "PNG"
    text = page.read_text(encoding="utf-8")
    assert text.count("<img") >= len(chain["path"])
    assert "<i>tag" not in text and "&lt;i&gt;tag &amp; &#x27;quote&#x27;" in text


def test_via_passes_the_waypoints_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_019", "--via", "img_010",
                         "--via", "img_005", "--json")
    assert code == 0
    chain = json.loads(out)
    path = chain["path"]
    assert chain["via"] == ["more/img_010.png", "shapes/img_005.png"]  # in the order given
    assert path[0] == "more/img_000.png" and path[-1] == "shapes/img_019.png"
    assert path.index("more/img_010.png") < path.index("shapes/img_005.png")
    assert len(set(path)) == len(path) and chain["hops"] == len(path) - 1
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_019", "--via", "img_010",
                         "--steps", "4", "--json")
    steps = json.loads(out)
    assert code == 0 and steps["hops"] == 5 and "more/img_010.png" in steps["path"]
    assert steps["mode"] == "steps" and steps["via"] == ["more/img_010.png"]
    code, out, _ = _xdeg(capsys, "path", "img_000", "img_019", "--via", "img_010")
    assert code == 0 and out.splitlines()[0] == "img_000 -> img_019 via more/img_010.png (smooth):"
    plain = json.loads(_xdeg(capsys, "path", "img_000", "img_019", "--json")[1])
    assert plain["via"] == [] and plain["chain_id"] != chain["chain_id"]


def test_bad_waypoints_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in ((("--via", "img_0o5"), "no image named 'img_0o5'"),
                          (("--via", "img_000"), "must be different images"),
                          (("--via", "img_003", "--avoid", "img_003"), "cannot be avoided"),
                          (("--via", "img_003", "--via", "img_004", "--steps", "1"),
                           "fewer than")):
        code, out, err = _xdeg(capsys, "path", "img_000", "img_019", *args)
        assert code == 2 and out == "" and message in err, args


def test_text_output_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _xdeg(capsys, "path", "img_000", NEWLINE_NAME)
    assert code == 0
    assert "names/new\\nline.png" in out and NEWLINE_NAME not in out


def test_graph_outside_data_folder_is_never_unpickled(
    built: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "elsewhere" / "similarity_graph.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps(_Evil(str(marker))))
    home = tmp_path / "home"
    home.mkdir()
    for name in ("raw_images.parquet", "rejected_images.parquet"):
        (home / name).write_bytes((built["home"] / name).read_bytes())
    (home / "similarity_graph.pkl").symlink_to(evil)

    code, out, err = _xdeg(capsys, "path", "img_000", "img_001", "--home", str(home))
    assert code == 2 and out == ""
    assert "refusing to load a pickle outside" in err
    with pytest.raises(PermissionError):
        Collection(home, built["images"])
    assert not marker.exists()

    (home / "similarity_graph.pkl").unlink()  # no graph at all: told to build first
    code, _, err = _xdeg(capsys, "path", "img_000", "img_001", "--home", str(home))
    assert code == 2 and "build it first" in err


class _Evil:
    """Unpickling this creates a folder: proof that a pickle was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.mkdir, (self.marker,))


def test_console_command_exit_status(built: dict) -> None:
    """The real process: a bad request exits 2 with the message on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "xdeg_pipeline.cli", "path", "nope_xyz", "img_001",
         "--home", str(built["home"]), "--images", str(built["images"])],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("xdeg: no image named 'nope_xyz'")


def test_build_text_summary_is_a_table(built: dict, capsys: pytest.CaptureFixture[str]) -> None:
    before = dict(os.environ)
    code, out, _ = _xdeg(capsys, "build", "--home", str(built["home"]),
                         "--images", str(built["images"]))
    assert code == 0
    assert dict(os.environ) == before  # flags are settings, not environment variables
    lines = out.splitlines()
    assert lines[0].split() == ["stage", "images", "seconds", "result"]
    rows = {line.split()[0]: line for line in lines[1:10]}
    assert list(rows) == ["raw_images", "image_features", "pca_features", "knn_edges",
                          "thumbnails", "image_outlines", "similarity_graph", "near_duplicates",
                          "collection_map"]
    assert rows["image_features"].split()[1] == "24" and "0 computed, 24 reused" in out
    assert rows["similarity_graph"].split()[1] == "24"
    assert "of near-duplicates" in rows["near_duplicates"]
    assert rows["thumbnails"].endswith("unchanged") and rows["collection_map"].endswith("unchanged")
    assert rows["image_outlines"].endswith("unchanged")
    assert "recoloured" in rows["similarity_graph"]
    assert len({line.index("  ", len("similarity_graph")) for line in lines[:10]}) == 1
    assert lines[10] == "checks: 4 of 4 passed" and "{" not in "\n".join(lines[:11])


def test_piped_build_prints_progress_lines_and_no_banner(tmp_path: Path) -> None:
    """A build whose output goes to a pipe (``make demo > log``) prints progress lines while
    features are computed, no telemetry banner and no warning a user cannot act on; the CLI's
    own instance in the data folder has telemetry off."""
    images, home = tmp_path / "images", tmp_path / "home"
    make_collection(images, 6)
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDEG_PROGRESS_BAR", "DAGSTER_HOME", "XDEG_MANIFEST")}
    done = subprocess.run(
        [sys.executable, "-m", "xdeg_pipeline.cli", "build", "--images", str(images),
         "--home", str(home)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "features: 0/6 (0%" in done.stderr and "features: 6/6 (100%" in done.stderr
    assert "scan: 6/6 (100%" in done.stderr
    for noise in ("Telemetry", "Welcome to Dagster", "BetaWarning", "DeprecationWarning",
                  "\r"):
        assert noise not in done.stderr, noise
    assert "6 computed, 0 reused" in done.stdout
    config = yaml.safe_load((home / "dagster" / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    assert (home / "dagster" / "history").is_dir()  # the run is in the data folder's instance


def test_bad_setting_exits_2_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDEG_BATCH_SIZE", "lots")
    code, out, err = _xdeg(capsys, "build", "--home", str(tmp_path / "home"))
    assert code == 2 and out == ""
    assert err.startswith("xdeg: XDEG_BATCH_SIZE: cannot read 'lots'")


def test_runtime_flag_reaches_the_feature_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default runtime builds the features (OpenVINO where installed); ``--runtime torch``
    computes the next image with torch into the same cache (same features, same key)."""
    images = tmp_path / "images"
    make_collection(images, 6)
    monkeypatch.setenv("XDEG_IMAGES", str(images))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("XDEG_RUNTIME", raising=False)
    home = str(tmp_path / "home")
    code, out, _ = _xdeg(capsys, "build", "--json", "--home", home)
    assert code == 0
    first = json.loads(out)["image_features"]
    import importlib.util

    expected = "openvino" if importlib.util.find_spec("openvino") else "torch"
    assert first["runtime"] == expected and first["run_images_computed"] == 6
    make_image(images / "extra.png", seed=900)
    code, out, _ = _xdeg(capsys, "build", "--json", "--home", home, "--runtime", "torch")
    assert code == 0
    second = json.loads(out)["image_features"]
    assert second["runtime"] == "torch" and second["run_images_computed"] == 1
    assert second["cache_key"] == first["cache_key"]
    code, _, err = _xdeg(capsys, "build", "--home", home, "--runtime", "tensorrt")
    assert code == 2 and "runtime" in err


def test_a_build_starts_without_the_explorer_igraph_or_dask() -> None:
    """``xdeg build`` with nothing to do pays for none of them (0.6-1 s, 0.8 s, 0.3 s)."""
    import xdeg_pipeline

    code = ("import sys; from xdeg_pipeline.cli import build_parser; build_parser()\n"
            "import xdeg_pipeline.assets, xdeg_pipeline.checks, xdeg_pipeline.resources\n"
            "from xdeg_pipeline.core.stages.features import dask_worker_map\n"
            "assert dask_worker_map() is None\n"
            "heavy = ('xdeg_pipeline.explorer.app', 'igraph', 'matplotlib', 'torch',\n"
            "         'distributed', 'openTSNE')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    root = str(Path(xdeg_pipeline.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=root, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    from xdeg_pipeline.explorer import create_app, serve  # still importable by name

    assert callable(create_app) and callable(serve)


def test_path_answers_the_chain_people_saw(built: dict, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    """``xdeg path`` answers a request with the chain requested_paths answered, else the
    explorer's, while it holds and nothing truly better appeared (as they do themselves)."""
    import pandas as pd

    from xdeg_pipeline.core.query import Collection, PathRequest, chain_id
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline_tests.helpers.alternatives import unbeaten_alternatives

    layout = Layout(built["home"])
    found = unbeaten_alternatives(Collection(built["home"], built["images"]))
    assert found
    a, b, best, other = found[0]
    key = chain_id(PathRequest(a, b))
    layout.paths_dir.mkdir(parents=True, exist_ok=True)
    try:
        pd.DataFrame({"chain_id": [key], "path": [other]}).to_parquet(layout.explorer_chains)
        chain = json.loads(_xdeg(capsys, "path", a, b, "--json")[1])
        assert chain["path"] == other and chain["earlier"] == {"kept": True, "reason": None}
        assert "  the chain answered before" in _xdeg(capsys, "path", a, b)[1].splitlines()
        pd.DataFrame({"chain_id": [key], "path": [[a, "gone.png", b]]}).to_parquet(
            layout.explorer_chains)
        text = _xdeg(capsys, "path", a, b)[1]
        assert "the chain answered before changed: an image of the earlier chain is no " in text
        pd.DataFrame({"chain_id": [key], "path": [best]}).to_parquet(layout.answered_chains)
        chain = json.loads(_xdeg(capsys, "path", a, b, "--json")[1])  # the pipeline's first
        assert chain["path"] == best and chain["earlier"]["kept"]
    finally:
        layout.explorer_chains.unlink(missing_ok=True)
        layout.answered_chains.unlink(missing_ok=True)
    assert "earlier" not in json.loads(_xdeg(capsys, "path", a, b, "--json")[1])
