"""Every benchmark runs anywhere: ``python -m benchmarks.NAME`` on a tiny input, in a fresh
process with its own temporary folder (no dataset on the machine), ends with one JSON object
holding the figures it promises.

Three benchmarks cannot run tiny (each is several real builds, or waits a minute for the
sensor's next tick): ``incremental``, ``url_manifest`` and ``sensor_launch`` are run in this
process with the builds and the daemon stubbed, which
checks their arguments, their arithmetic and their JSON line; their ``--help`` runs as a
subprocess like the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.storage.feature_table import write_feature_table
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline_tests.helpers.collections import make_collection
from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

REPO = Path(__file__).resolve().parents[1]
SAMPLE = 24  # images of the demo collection the benchmarks render for themselves
STUBBED = {"incremental", "url_manifest", "sensor_launch"}


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A temporary folder as the benchmarks' system temp (their caches land there: the demo
    sample and the feature store are made once and shared by the runs below)."""
    root = tmp_path_factory.mktemp("bench")
    (root / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(root / "tmp"), "PYTHONPATH": str(REPO),
           "XDEG_PROGRESS_BAR": "0"}
    return {"root": root, "env": env, "sample": root / "tmp" / "xdeg-bench"
            / f"openmoji-160-sample{SAMPLE}"}


def run_benchmark(bench: dict, name: str, *args: str, timeout: int = 300) -> dict:
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args], cwd=REPO,
                          env=bench["env"], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
    print(f"{name}: {done.stdout.strip().splitlines()[-1]}")  # shown with -s
    return _last_json(done.stdout)


def _map_home(root: Path) -> Path:
    """A data folder with what map_layout reads: the manifest and the PCA features."""
    rng = np.random.default_rng(0)
    layout = Layout(root / "map-home")
    layout.home.mkdir(parents=True)
    n = 90
    hashes = [f"{i:064x}" for i in range(n)]
    topic = np.arange(n) % 3
    X = (rng.normal(size=(3, 8))[topic] * 4 + rng.normal(size=(n, 8))).astype(np.float32)
    pd.DataFrame({"name": [f"t{t}/i{i}.png" for i, t in enumerate(topic)],
                  "content_hash": hashes}).to_parquet(layout.raw_images)
    write_feature_table(hashes, X, layout.pca_features)
    return layout.home


def test_quality_data(bench: dict) -> None:
    out = run_benchmark(bench, "quality_data", "--limit", str(SAMPLE))
    assert "the demo collection (OpenMoji" in out["collection"] and out["images"] == SAMPLE
    assert out["feature_dim"] > 0


def test_feature_throughput(bench: dict) -> None:
    out = run_benchmark(bench, "feature_throughput", "--images", str(bench["sample"]),
                        "--n", "8", "--rounds", "2", "--compare", "torch", "--runtime", "torch",
                        "--real-n", "8", "--naive-n", "2", "--batch-size", "4", "--workers",
                        "0", "--compare-rounds", "1", "--compare-batches", "1", "--threads", "1",
                        "--ceiling-seconds", "0.5")
    assert "the demo collection" in out["real_images"]
    ceiling = out["cpu_ceiling"]  # decoding and the model share the cores
    assert 0 < ceiling["ceiling_ratio"] <= 1 and ceiling["input_cpu_ms"] > 0
    assert ceiling["end_to_end_ceiling"] <= ceiling["model_alone"]
    assert out["min_cosine_vs_torch"] is not None and out["min_cosine_vs_torch"] > 0.999
    assert out["images"] == 8 and out["ratio"] > 0 and set(out["runtimes"]) == {
        "efficientnet_lite0", "resnet18"}


def test_chain_stability(bench: dict) -> None:
    out = run_benchmark(bench, "chain_stability", "--n", str(SAMPLE), "--pairs", "4",
                        "--share", "0.1")
    assert out["images"] == SAMPLE and out["added"] == 2 and out["pairs"] == 4
    assert "the demo collection" in out["collection"]
    assert 0 <= out["unchanged_fresh"] <= out["unchanged_remembered"] <= 1  # never worse


def test_decode_once(bench: dict) -> None:
    out = run_benchmark(bench, "decode_once", "--n", "4", "--runtime", "torch")
    assert out["images"] == 4 and "the demo collection" in out["which"]
    assert out["thumbnails_made_by_stage"] == {"separate": 4, "once": 0}
    assert out["ratios_once_over_separate"]["sum"]["cpu_s"] > 0


def test_fit_features(bench: dict) -> None:
    out = run_benchmark(bench, "fit_features", str(bench["root"] / "fits"),
                        str(bench["sample"]), "--fits", "pad")
    assert out["images"] == SAMPLE and set(out["seconds"]) == {"pad"}


def test_path_quality(bench: dict) -> None:
    out = run_benchmark(bench, "path_quality", "--limit", str(SAMPLE), "--pairs", "3",
                        "--hub-pairs", "3", "--edit-sample", "2", "--pca", "8", "--k", "5",
                        "--modes", "smooth", "--reference")
    assert "the demo collection" in out["collections_used"]
    (report,) = out["collections"]
    assert report["n"] == SAMPLE and set(report["configs"][0]["modes"]) == {
        "smooth", "original recipe"}
    smooth = report["configs"][0]["modes"]["smooth"]
    assert 0 <= smooth["recoloured_steps"] <= 1  # the pipeline's outlines, drawn for the run
    assert report["configs"][0]["recoloured_edges"] >= 0


def test_recoloured_share_counts_steps_between_one_outline() -> None:
    from benchmarks.path_quality import recoloured_share

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, 576), rng.integers(0, 256, 576)
    outline = np.array([a, a, b, a], dtype=np.uint8)  # 0, 1 and 3: one drawing
    has = np.array([True, True, True, False])  # 3 has no outline
    assert recoloured_share([[0, 1, 2], [2, 3], None], outline, has) == round(1 / 3, 4)


def test_topic_changes_count_what_a_chain_did_not_need() -> None:
    """The topic figure that does not reward more steps: a chain between two topics must
    change topic once; only the changes beyond that count."""
    from benchmarks.quality_metrics import chain_figures

    topics = ["a", "a", "b", "b", "a"]
    chains = [[0, 1, 2], [0, 2, 4, 3], [0, 1], None]  # 0 extra, 2 extra, 0 extra, not found
    fig = chain_figures(chains, [0.0] * 4, topics, n=5, seed=0)
    assert fig["extra_topic_changes"] == round(2 / 3, 3)
    assert fig["chains_leaving_topic"] == round(1 / 3, 3)
    assert fig["same_topic"] == round(2 / 6, 4)


def test_path_quality_stability(bench: dict, tmp_path: Path) -> None:
    """--stability: the chains asked afresh and as a refresh of requested_paths answers them
    (the earlier chain kept while it holds: never fewer unchanged than afresh)."""
    from PIL import Image, ImageDraw

    other = tmp_path / "other"
    other.mkdir()
    for i in range(12):  # pictures of another kind: bars and rings
        img = Image.new("RGB", (96, 96), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        colour = (40 * (i % 6), 255 - 20 * i, 90)
        if i % 2:
            draw.ellipse((10 + i, 10, 86, 86 - i), outline=colour, width=6)
        else:
            draw.rectangle((8, 8 + 4 * i, 88, 30 + 4 * i), fill=colour)
        img.save(other / f"o{i:02d}.png")
    out = run_benchmark(bench, "path_quality", "--limit", str(SAMPLE), "--pairs", "4",
                        "--hub-pairs", "4", "--edit-sample", "2", "--pca", "8", "--k", "5",
                        "--modes", "smooth", "--stability", str(other))
    config = out["collections"][0]["configs"][0]
    for key in ("stability", "stability_fresh_load"):
        figures = config[key]
        assert figures["added"] == 1
        assert 0 <= figures["smooth"] <= figures["smooth_answered_again"] <= 1, figures


def test_uneven_collection(bench: dict) -> None:
    out = run_benchmark(bench, "uneven_collection", str(bench["root"] / "uneven"),
                        "--limit", str(SAMPLE))
    assert "the demo collection" in out["base"]
    assert out["series"] == 300 and out["mixed"] == 6 and out["near_duplicates"] == 20
    assert out["images"] == SAMPLE + 326


def test_series_collection(bench: dict) -> None:
    out = run_benchmark(bench, "series_collection", str(bench["root"] / "series"),
                        "--limit", str(SAMPLE))
    assert "the demo collection" in out["base"] and out["variant"] == "star"
    assert out["series"] == {"star": 124, "pan": 60} and out["images"] == SAMPLE + 184
    assert out["runs"] > 0
    palette = run_benchmark(bench, "series_collection", str(bench["root"] / "palette"),
                            "--limit", str(SAMPLE), "--variant", "palette")
    assert palette["series"] == {"palette": 6 * min(SAMPLE, 40)}
    assert palette["runs"] == min(SAMPLE, 40)  # one run per picture: its colourings


def test_graph_scale(bench: dict) -> None:
    out = run_benchmark(bench, "graph_scale", "--sizes", "300", "--igraph-size", "300",
                        "--queries", "2", "--recall-sample", "20", "--loop-budget", "1")
    assert out["igraph_300"]["ratio_loop_over_bulk"] > 0 and "paths" in out["sizes"]["300"]


def test_query_settings(bench: dict) -> None:
    out = run_benchmark(bench, "query_settings", "--n", "300", "--pairs", "6",
                        "--reference", "spare_steps=0,skip_short=0.4")
    assert out["settings"]["reference"] == {"spare_steps": 0, "skip_short": 0.4}
    assert out["settings"]["candidate"] == {} and out["pairs"] == 6
    assert out["reference"]["p50_ms"] > 0 and out["candidate_over_reference_p50"] > 0


def test_recolour_scale(bench: dict) -> None:
    out = run_benchmark(bench, "recolour_scale", "--images", "6", "--n", "600", "--k", "5")
    assert out["outlines"]["images"] == 6 and out["outlines"]["outline_over_decode"] > 0
    edges = out["edges"]
    assert edges["edges"] == 3000 and 0 < edges["marked"] < 3000  # some colourings, not all
    assert edges["mark_over_weights"] > 0


def test_knn_update(bench: dict) -> None:
    out = run_benchmark(bench, "knn_update", "--sizes", "300", "--changes", "0.1")
    (row,) = out["rows"]
    assert row["n"] == 300 and row["update_over_rebuild"] > 0


def test_rerank_scale(bench: dict) -> None:
    out = run_benchmark(bench, "rerank_scale", "--n", "500", "--dim", "32",
                        "--reference-pairs", "5000")
    assert out["pairs"] == 500 * 60 and out["kept"] == 500 * 20 and out["dtype"] == "float32"
    assert out["chord_speedup_vs_reference"] > 0 and out["update_pairs"] == 600


def test_knn_distributed(bench: dict) -> None:
    out = run_benchmark(bench, "knn_distributed", "--n", "800", "--partitions", "2",
                        "--workers", "1", "--recall-sample", "20", "--exits")
    assert out["n"] == 800 and out["partitions"] == 2 and out["recall_at_k"] >= 0.9
    assert out["peak_worker_rss_gb"] > 0 and out["single_process_peak_rss_gb"] > 0
    assert out["wall_s"] > 0 and out["single_process_wall_s"] > 0
    assert out["exits_single"] > 0 and 0.5 <= out["exits_agreement"] <= 1
    assert out["exits_peak_worker_rss_gb"] > 0 and out["exits_search"] == "exact"  # tiny

def test_graph_update(bench: dict) -> None:
    out = run_benchmark(bench, "graph_update", "--sizes", "300", "--add", "0.02")
    (row,) = out["rows"]
    assert (row["n"], row["added"], row["mode"]) == (300, 6, "update")
    assert row["load_update_cpu_s"] >= 0 and row["new_load_mae"] >= 0
    out = run_benchmark(bench, "graph_update", "--sizes", "300", "--add", "0.02",
                        "--series", "25")
    (row,) = out["rows"]
    assert out["series"] == 25 and row["exits"] > 0 and row["mode"] == "update"


def test_scale_model(bench: dict) -> None:
    out = run_benchmark(bench, "scale_model", "--stages", "graph,paths", "--sizes", "200,400",
                        "--target", "1000", "--queries", "2", "--threads", "1")
    assert [r.get("error") for r in out["rows"]] == [None] * 4
    assert out["gpu_rate_given"] == 5000.0 and set(out["projection"]) >= {"graph", "paths"}


def test_graph_lean(bench: dict) -> None:
    out = run_benchmark(bench, "graph_lean", "--sizes", "300", "--queries", "2")
    (row,) = out["rows"]
    assert row["stage"]["previous"] and not row["first_build"]["previous"]  # a rebuild measured
    assert row["stage"]["build_peak_gb"] > 0 and row["finder"]["finder_s"] > 0
    assert row["finder"]["chains_sha1"]


def test_guards(bench: dict) -> None:
    out = run_benchmark(bench, "guards", "--names", "2000", "--repeats", "1")
    assert set(out) == {"resolve", "fifo", "lock", "stage", "download"}
    assert all(out[g]["ratio"] is not None and out[g]["reference_s"] > 0 for g in out)
    assert out["stage"]["reused"]


def test_map_layout(bench: dict) -> None:
    home = _map_home(bench["root"])
    out = run_benchmark(bench, "map_layout", "--home", str(home), "--no-umap",
                        "--set", "n_iter=100", "--set", "early_exaggeration_iter=50")
    (row,) = out["results"]
    assert row["method"] == "tsne" and row["n"] == 90


def test_serve_load(bench: dict) -> None:
    home = build_synthetic_home(bench["root"] / "serve", n=40)
    out = run_benchmark(bench, "serve_load", "--home", str(home["home"]), "--images",
                        str(home["images"]), "--requests", "24", "--concurrency", "2")
    assert out["requests"] == 24 and out["all_correct"]  # 4 asked first by the sequential pass


def test_map_paint(bench: dict) -> None:
    out = run_benchmark(bench, "map_paint", "--n", "60", "--reference-n", "20")
    assert out["map"]["images"] == 60 and out["reference"]["images"] == 20
    assert set(out["ratios"]) == {"ms_from_navigation", "ms_from_map_request", "redraw_ms"}


def test_explorer_scale(bench: dict) -> None:
    out = run_benchmark(bench, "explorer_scale", "--n", "200", "--reference-n", "100",
                        "--pairs", "2")
    assert out["n"] == 200 and out["reference"]["n"] == 100
    keys = ("first_paint_s", "zoom_thumbnails_s", "server_ready_s", "server_rss_gb",
            "path_p50_ms")
    assert all(out[k] >= 0 for k in keys) and set(keys) <= set(out["ratios"])
    assert out["zoom_mode"] == "thumbnails" and out["zoom_thumbnails"] > 0


@pytest.mark.parametrize("name", sorted(STUBBED))
def test_help_of_the_benchmarks_run_stubbed(bench: dict, name: str) -> None:
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--help"], cwd=REPO,
                          env=bench["env"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]


def test_every_benchmark_is_run_here() -> None:
    """A new benchmark gets a tiny run here (or a stubbed one, said above)."""
    runnable = {p.stem for p in (REPO / "benchmarks").glob("*.py")
                if 'if __name__ == "__main__":' in p.read_text()}
    tested = {n[len("test_"):] for n in globals() if n.startswith("test_")} | STUBBED
    assert runnable - tested == set()


# ------------------------------------------------- the two that run stubbed: arguments and JSON


def test_incremental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    """``benchmarks.incremental`` with each build stubbed (a build costs ~1 s per image here)."""
    from benchmarks import incremental

    make_collection(tmp_path / "images", 12)
    seen: list[int] = []

    def build(collection: Path, home: Path, in_process: bool) -> tuple[float, dict]:
        files = incremental._image_files(collection)
        home.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"content_hash": [_sha(p) for p in files]}).to_parquet(
            home / "raw_images.parquet")
        computed = len(files) - (seen[-1] if seen else 0)
        seen.append(len(files))
        return 2.0 * len(files), {
            "seconds": len(files), "cpu_s": float(len(files)),
            "image_features": {"run_images_computed": computed, "seconds": 0.5},
            "knn_edges": {"mode": "update"}, "pca_features": {"refit": False}}

    def dagster_build(collection: Path, home: Path, instance: Path) -> tuple[float, dict]:
        wall, summary = build(collection, home, False)
        log = ('... STEP_SUCCESS - Finished execution of step "similarity_graph" in 533ms.\n'
               '... STEP_SUCCESS - Finished execution of step "image_features" in 1m2s.')
        steps = incremental.step_seconds(log)
        return wall, {**{k: {"seconds": v} for k, v in steps.items()}, "cpu_s": 1.0,
                      "graph_mode": "update"}

    monkeypatch.setattr(incremental, "_build", build)
    monkeypatch.setattr(incremental, "_dagster_build", dagster_build)
    monkeypatch.setattr(sys, "argv", ["incremental", "--images", str(tmp_path / "images"),
                                      "--n", "10", "--add", "0.1", "--in-process"])
    incremental.main()
    out = _last_json(capsys.readouterr().out)
    assert (out["images"], out["added"], out["ratio"], out["ratio_cli"]) == (10, 1, 1.1, 1.1)
    assert out["features_computed_incremental"] == out["added_new_content"] == 1
    assert out["exactly_the_added"] and out["features_computed_unchanged"] == 0
    assert out["breakdown_s"]["full"]["image_features"] == 0.5
    assert out["ratio_dagster"] == 1.1 and out["dagster_graph_mode_incremental"] == "update"
    steps = out["dagster_breakdown_s"]["incremental"]
    assert (steps["similarity_graph"], steps["image_features"]) == (0.53, 62.0)
    assert out["targets"] == {"ratio_cli": 0.10, "ratio_dagster": 0.12}


def test_sensor_launch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    """``benchmarks.sensor_launch`` with the builds and the daemon stubbed (the sensor ticks at
    most once a minute): its steps, its arithmetic and its JSON line."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from benchmarks import incremental, sensor_launch

    make_collection(tmp_path / "images", 12)

    def hashes_to(collection: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"content_hash": [_sha(p) for p in incremental._image_files(
            collection)]}).to_parquet(home / "raw_images.parquet")

    def build(collection: Path, home: Path, in_process: bool) -> tuple[float, dict]:
        hashes_to(collection, home)
        return 4.0, {"image_features": {"run_images_computed": 2}}

    launched: list[Path] = []

    def start_daemon(home: Path, collection: Path, instance: Path):
        launched.append(instance)
        return SimpleNamespace(poll=lambda: 0, terminate=lambda: None, wait=lambda timeout: 0,
                               home=home, collection=collection)

    def wait_for_run(instance: Path, after: int, timeout: float, daemon):
        hashes_to(daemon.collection, daemon.home)  # the run builds what the folder holds
        now = datetime.now(timezone.utc)
        return SimpleNamespace(create_timestamp=now, start_time=now.timestamp() + 1.0,
                               end_time=now.timestamp() + 6.0)

    monkeypatch.setattr(sensor_launch, "_build", build)
    monkeypatch.setattr(sensor_launch, "_start_daemon", start_daemon)
    monkeypatch.setattr(sensor_launch, "_wait_for_run", wait_for_run)
    monkeypatch.setattr(sys, "argv", ["sensor_launch", "--images", str(tmp_path / "images"),
                                      "--n", "10", "--add", "2"])
    sensor_launch.main()
    out = _last_json(capsys.readouterr().out)
    assert len(launched) == 1 and (out["images"], out["added"]) == (10, 2)
    assert (out["sensor_run_s"], out["sensor_run_process_s"], out["cli_s"]) == (6.0, 5.0, 4.0)
    assert out["ratio"] == 1.5 and out["target"] == 1.5
    assert out["new_content"] == out["cli_computed"] == 2


def test_url_manifest(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                      tmp_path: Path) -> None:
    """``benchmarks.url_manifest`` with ``run_build`` stubbed (its builds and 5 s timeouts take
    minutes); the served manifest, the download-alone runs and the JSON line are real, and it
    leaves nothing in the temporary folder."""
    import tempfile

    from benchmarks import url_manifest
    from xdeg_pipeline.core.sources import remote

    for key in ("XDEG_HOME", "XDEG_IMAGES", "XDEG_MANIFEST", "DAGSTER_HOME", "XDEG_PROGRESS_BAR",
                "XDEG_DOWNLOAD_TIMEOUT", "XDEG_DOWNLOAD_TOTAL_TIMEOUT", "XDEG_DOWNLOAD_MAX_MB",
                "no_proxy"):  # the benchmark sets them in os.environ: restored afterwards
        monkeypatch.setenv(key, "")

    def run_build(quiet: bool = True) -> dict:
        layout = Layout(Path(os.environ["XDEG_HOME"]))
        if os.environ.get("XDEG_IMAGES"):
            good, failed = sorted(p.name for p in Path(os.environ["XDEG_IMAGES"]).iterdir()), []
        else:
            table = remote.load_manifest_table(Path(os.environ["XDEG_MANIFEST"]))
            good = [f"{i}.jpg" for i in table["ID"] if i.startswith("w")]
            failed = [i for i in table["ID"] if not i.startswith("w")]
        pd.DataFrame({"name": good}).to_parquet(layout.raw_images)
        pd.DataFrame({"name": failed, "reason": ["stub"] * len(failed)}).to_parquet(
            layout.home / "rejected_images.parquet")
        return {"raw_images": {"seconds": 0.1, "download_seconds": 0.1, "downloaded": len(good),
                               "download_failed": len(failed), "downloaded_mb": 0.1, "cached": 0},
                "similarity_graph": {"seconds": 0.1, "vertices": len(good)}}

    monkeypatch.setattr("xdeg_pipeline.cli.run_build", run_build)
    monkeypatch.setattr(sys, "argv", ["url_manifest", "--n", "40", "--latency", "0"])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    url_manifest.main()
    assert list(tmp_path.iterdir()) == []
    out = _last_json(capsys.readouterr().out)
    assert out["rows"] == 40 and out["good"] + out["failing"] == 40 and out["vertices"] > 0
    assert out["ratio_cold_vs_folder"] > 0 and out["download_8_threads_s"] > 0
    assert out["cases"]["HTTP 404"] == "stub" and out["cases"]["302 redirect"] == "stub"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
