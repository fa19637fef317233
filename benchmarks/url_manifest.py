"""Build from a URL manifest: N generated JPEGs served over local HTTP (with a per-request
latency, like a remote host) plus rows for every failure case, built end to end with the same
Dagster materialisation as ``xdeg build --manifest``. Last line: one JSON object.

    python -m benchmarks.url_manifest [--n 300] [--latency 0.05]   (from the repository root)

Reports: the cold build (downloads included), the re-run (everything cached: no request for a
downloaded row), the same images built from a local folder (the reference), the download alone
with 1 and 8 threads, and what each failure case produced in rejected_images.

The builds are configured as a user configures ``xdeg build``: through the documented
``XDEG_*`` variables (data folder, collection, manifest, download limits); the download-alone
runs call :func:`xdeg_pipeline.core.sources.remote.download_all` with explicit arguments.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw


def _picture(seed: int, w: int = 400, h: int = 300) -> bytes:
    """A varied JPEG: gradient background, a few shapes."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(-120, 120, 3)
    arr = np.clip(base + ramp + np.zeros((h, 1, 1)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        box = (x0, y0, x0 + int(rng.integers(20, 160)), y0 + int(rng.integers(20, 120)))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def _failure_rows(server, png: bytes) -> list[tuple[str, str, str]]:
    """(id, url, case) for every failure kind, some repeated."""
    html = b"<!DOCTYPE html><html><body>This artwork has moved</body></html>"
    rows = []
    for i in range(4):
        rows.append((f"gone{i}", server.status(f"/gone{i}.jpg", 404), "HTTP 404"))
    for i in range(3):
        rows.append((f"down{i}", server.status(f"/down{i}.jpg", 500), "HTTP 500 (always)"))
    for i in range(3):
        rows.append((f"flaky{i}", server.flaky(f"/flaky{i}.jpg", png), "HTTP 500 then 200"))
    for i in range(3):
        server.image(f"/moved{i}.jpg", _picture(10_000 + i))
        rows.append((f"moved{i}", server.redirect(f"/old{i}.jpg", f"/moved{i}.jpg"),
                     "302 redirect"))
    for i in range(2):
        server.redirect(f"/loop{i}b", f"/loop{i}a")
        rows.append((f"loop{i}", server.redirect(f"/loop{i}a", f"/loop{i}b"), "redirect loop"))
    for i in range(2):
        rows.append((f"huge{i}", server.stream(f"/huge{i}.jpg", 100 * 2**20),
                     "100 MB, Content-Length"))
    rows.append(("huge_unsized", server.stream("/huge-unsized.jpg", 100 * 2**20, declare=False),
                 "100 MB, no Content-Length"))
    for i in range(3):
        rows.append((f"page{i}", server.image(f"/page{i}.jpg", html, "text/html"),
                     "HTML page at an image URL"))
    for i in range(2):
        rows.append((f"slow{i}", server.slow(f"/slow{i}.jpg", png, delay=5.0),
                     "no answer for 5 s"))
    for i in range(2):
        rows.append((f"cut{i}", server.truncated(f"/cut{i}.jpg", _picture(20_000 + i)),
                     "connection closed mid-body"))
    rows.append(("corrupt", server.image("/corrupt.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 500),
                 "JPEG header, garbage body"))
    rows.append(("ftp", "ftp://127.0.0.1/a.jpg", "ftp:// URL"))
    rows.append(("file", "file:///etc/hosts", "file:// URL"))
    rows.append(("blank", "", "empty URL cell"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="manifest rows in all")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per good request")
    args = parser.parse_args()

    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    from xdeg_pipeline_tests.helpers.image_server import ImageServer

    work = Path(tempfile.mkdtemp(prefix="xdeg-manifest-"))
    try:
        _measure(args, work, ImageServer())
    finally:  # the images, the manifest and the data folders the builds made
        shutil.rmtree(work, ignore_errors=True)


def _measure(args: argparse.Namespace, work: Path, server: Any) -> None:
    """The builds and downloads of :func:`main`, in ``work``, from ``server``."""
    png = _picture(99_999)
    failures = _failure_rows(server, png)
    n_good = args.n - len(failures)
    artists = ["Hilma af Klint", "Paul Klee", "Sonia Delaunay", "Agnes Martin", "Joan Miró"]
    folder = work / "folder"
    folder.mkdir()
    rows = []
    t0 = time.perf_counter()
    for i in range(n_good):
        data = _picture(i)
        (folder / f"w{i:04d}.jpg").write_bytes(data)
        url = server.slow(f"/images/{i}/painting-{i}.jpg", data, delay=args.latency)
        rows.append({"ID": f"w{i:04d}", "Title": f"Study no. {i}", "Artist": artists[i % 5],
                     "Year": str(1900 + i % 100), "Style": "Modern Art", "Image URL": url})
    for key, url, _ in failures:
        rows.append({"ID": key, "Title": key, "Artist": "", "Year": "", "Style": "",
                     "Image URL": url})
    order = np.random.default_rng(0).permutation(len(rows))  # failures mixed in
    manifest = work / "manifest.tsv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows[i] for i in order)
    print(f"{len(rows)} rows ({n_good} good, {len(failures)} failing), images generated in "
          f"{time.perf_counter() - t0:.1f} s, {args.latency * 1000:.0f} ms latency per image")

    os.environ.update(XDEG_PROGRESS_BAR="0", XDEG_DOWNLOAD_TIMEOUT="1",
                      XDEG_DOWNLOAD_TOTAL_TIMEOUT="10", XDEG_DOWNLOAD_MAX_MB="2")
    from xdeg_pipeline.cli import run_build
    from xdeg_pipeline.core.sources import remote

    def build(home: Path, **env: str) -> tuple[float, dict]:
        os.environ.update(XDEG_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), **env)
        (home / "dagster").mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        summary = run_build(quiet=True)
        return time.perf_counter() - t, summary

    warmup = work / "warmup"
    warmup.mkdir()
    for f in sorted(folder.iterdir())[:8]:
        (warmup / f.name).write_bytes(f.read_bytes())
    build(work / "home-warmup", XDEG_IMAGES=str(warmup))  # imports, model load: paid once here
    ref, s3 = build(work / "home-folder", XDEG_IMAGES=str(folder))
    print(f"reference, same {n_good} images from a local folder: {ref:.1f} s")
    os.environ.pop("XDEG_IMAGES")

    def stages(summary: dict) -> str:
        return ", ".join(f"{k} {v['seconds']}" for k, v in summary.items()
                         if isinstance(v, dict) and "seconds" in v)

    home = work / "home"
    cold, s1 = build(home, XDEG_MANIFEST=str(manifest))
    raw1 = s1["raw_images"]
    print(f"cold build from the manifest: {cold:.1f} s (download {raw1['download_seconds']} s, "
          f"{raw1['downloaded']} downloaded, {raw1['download_failed']} failed, "
          f"{raw1['downloaded_mb']} MB); graph {s1['similarity_graph'].get('vertices')} vertices")
    print(f"  stage seconds: {stages(s1)}")
    print(f"  folder build stage seconds: {stages(s3)}")
    server.hits.clear()
    warm, s2 = build(home, XDEG_MANIFEST=str(manifest))
    good_hits = sum(v for k, v in server.hits.items() if k.startswith("/images/"))
    print(f"re-run: {warm:.1f} s, downloaded {s2['raw_images']['downloaded']}, cached "
          f"{s2['raw_images']['cached']}, requests for downloaded rows {good_hits}, requests for "
          f"failed rows {sum(server.hits.values()) - good_hits}")
    print(f"ratio cold manifest / folder: {cold / ref:.2f}; re-run / folder: {warm / ref:.2f}")

    table = remote.load_manifest_table(manifest)
    good = table[table["ID"].str.startswith("w")]
    speed = {}
    for workers in (1, 8):
        t = time.perf_counter()
        cache = work / f"cache{workers}"
        res = remote.download_all(good, "Image URL", cache, cache / "failures.json",
                                  workers=workers)
        speed[workers] = time.perf_counter() - t
        assert res.downloaded == len(good), res.rejected
    print(f"download alone, {len(good)} images: 1 thread {speed[1]:.1f} s, 8 threads "
          f"{speed[8]:.1f} s (x{speed[1] / speed[8]:.1f})")

    rejected = pd.read_parquet(home / "rejected_images.parquet")
    reasons = dict(zip(rejected["name"], rejected["reason"]))
    raw = pd.read_parquet(home / "raw_images.parquet")
    present = set(raw["name"].str.rsplit(".", n=1).str[0])
    cases: dict[str, str] = {}
    for key, _, case in failures:
        outcome = "ok (in raw_images)" if key in present else reasons.get(key, "?")
        cases.setdefault(case, outcome)
        print(f"  {case:<28} -> {outcome}")
    server.close()
    print(json.dumps({
        "rows": len(rows), "good": n_good, "failing": len(failures),
        "latency_s": args.latency,
        "cold_build_s": round(cold, 2), "download_s": raw1["download_seconds"],
        "rerun_s": round(warm, 2), "folder_build_s": round(ref, 2),
        "ratio_cold_vs_folder": round(cold / ref, 2), "ratio_rerun_vs_folder": round(warm / ref, 2),
        "rerun_requests_for_downloaded_rows": good_hits,
        "download_1_thread_s": round(speed[1], 2), "download_8_threads_s": round(speed[8], 2),
        "vertices": s1["similarity_graph"].get("vertices"),
        "cases": cases,
    }))


if __name__ == "__main__":
    main()
