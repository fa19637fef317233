"""The explorer at a collection's scale: `xdeg serve` on a synthetic data folder of N images,
measured in headless Chromium (1,400 x 900), against a small folder measured the same way.

    python -m benchmarks.explorer_scale [--n 100000] [--reference-n 1000] [--pairs 30]
                                        [--screenshots DIR] [--folder DIR]

The folders come from ``xdeg_pipeline_tests.helpers.scale_home`` (random clustered vectors, a
graph built by core, the map from the vectors, synthetic atlas sheets; no image files).
Figures: seconds from `xdeg serve`'s start to its first answer (``server_ready_s``) and to the
path finder's (``finder_ready_s``); the map's first paint from navigation (``first_paint_s``);
a zoom into the densest region until every thumbnail on screen is drawn
(``zoom_thumbnails_s``, at once after the first paint, while the server still loads the
collection behind the map; ``zoom_thumbnails_loaded_s``, the same on a fresh page once it has
loaded); ``/api/path`` smooth between random pairs (``path_p50_ms``, wall time
of the HTTP request); the server's resident memory after all that and its peak
(``server_rss_gb``, ``server_peak_rss_gb``). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline_tests.helpers.browser import chromium
from xdeg_pipeline_tests.helpers.live_server import free_port
from xdeg_pipeline_tests.helpers.scale_home import build_scale_home

ZOOM = """async ([u, v, scale]) => { const m = window.xdegMap, t = performance.now();
    m.zoomTo(u, v, scale); await m.settled();
    return {ms: performance.now() - t, mode: m.canvas.dataset.mode,
            thumbs: Number(m.canvas.dataset.thumbs)}; }"""


def _get(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _memory_gb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process (GB, from /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    kb = lambda k: int(fields.get(k, "0 kB").split()[0])  # noqa: E731
    return kb("VmRSS") / 2**20, kb("VmHWM") / 2**20


def _serve(home: dict, port: int) -> tuple[subprocess.Popen, float, float]:
    """Start `xdeg serve`; seconds to its first answer and to the path finder's readiness
    (search's text is made after that, in the background)."""
    env = {**os.environ, "XDEG_HOME": str(home["home"]), "XDEG_IMAGES": str(home["images"])}
    cmd = [sys.executable, "-m", "xdeg_pipeline.cli", "serve", "--home", str(home["home"]),
           "--images", str(home["images"]), "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ready = finder = None
    while finder is None:
        if proc.poll() is not None:
            raise SystemExit(f"xdeg serve stopped: {proc.stderr.read().decode()[-2000:]}")
        try:
            status = _get(f"http://127.0.0.1:{port}/api/status", timeout=1)
            ready = ready or time.perf_counter() - t0
            if not status.get("loading"):
                finder = time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.05)
    return proc, ready, finder


def _searchable(base: str, t0: float) -> float:
    """Seconds from ``t0`` until search's text is made (the server's background work)."""
    while not _get(f"{base}/api/status", timeout=30).get("searchable"):
        time.sleep(0.2)
    return time.perf_counter() - t0


def _paths(base: str, names: list[str], pairs: int, seed: int = 1) -> list[float]:
    """Wall ms of ``/api/path`` smooth for random pairs (after one warm-up request)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(pairs + 1):
        a, b = rng.choice(len(names), 2, replace=False)
        q = urllib.parse.urlencode({"source": names[a], "target": names[b]})
        t = time.perf_counter()
        try:
            _get(f"{base}/api/path?{q}", timeout=60)
        except urllib.error.HTTPError as exc:  # 422: no chain (not with these graphs)
            if exc.code != 422:
                raise
        if k:
            out.append((time.perf_counter() - t) * 1000)
    return out


def _densest(u: np.ndarray, v: np.ndarray, bins: int = 64) -> tuple[float, float]:
    counts, ex, ey = np.histogram2d(u, v, bins=bins, range=[[-0.5, 0.5], [-0.5, 0.5]])
    i, j = np.unravel_index(np.argmax(counts), counts.shape)
    return float((ex[i] + ex[i + 1]) / 2), float((ey[j] + ey[j + 1]) / 2)


def _folder(root: Path, n: int) -> tuple[dict, float | None]:
    """The synthetic folder of ``n`` images in ``root``: built, or the one already there
    (then no build time)."""
    layout = Layout(root / "home")
    if layout.similarity_graph.exists():
        names = pd.read_parquet(layout.raw_images, columns=["name"])["name"].tolist()
        if len(names) != n:
            raise SystemExit(f"{root} holds {len(names):,} images, not {n:,}")
        return {"images": root / "images", "home": root / "home", "names": names}, None
    t0 = time.perf_counter()
    home = build_scale_home(root, n)
    return home, time.perf_counter() - t0


def measure(browser, root: Path, n: int, pairs: int, shots: Path | None) -> dict:
    """Build a folder of ``n`` images (or reuse it), serve it, measure it."""
    home, built = _folder(root, n)
    port = free_port()
    started = time.perf_counter()
    proc, ready, finder = _serve(home, port)
    base = f"http://127.0.0.1:{port}"
    try:
        page = _painted(browser, base)
        first = page.evaluate("window.xdegMapPaint")
        points = int(page.locator("#map").get_attribute("data-points"))
        if shots is not None:
            page.locator("#map").screenshot(path=str(shots / f"explorer_{n}_out.png"))
        u, v = _uv(base, n)
        centre = _densest(np.asarray(u), np.asarray(v))
        zoom = _zoom(page, centre)  # while the server still loads the collection behind
        if shots is not None:
            page.locator("#map").screenshot(path=str(shots / f"explorer_{n}_in.png"))
        page.close()
        searchable = _searchable(base, started)
        page = _painted(browser, base)  # a fresh page (empty cache), the server loaded
        zoom_loaded = _zoom(page, centre)
        page.close()
        times = _paths(base, home["names"], pairs)
        rss, peak = _memory_gb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if points != n:
        raise SystemExit(f"the map shows {points} points of {n}")
    return {"n": n, "build_s": None if built is None else round(built, 1),
            "server_ready_s": round(ready, 2),
            "finder_ready_s": round(finder, 2), "search_ready_s": round(searchable, 2),
            "first_paint_s": round(first["fromNavigation"] / 1000, 3),
            "zoom_thumbnails_s": round(zoom["ms"] / 1000, 3), "zoom_thumbnails": zoom["thumbs"],
            "zoom_mode": zoom["mode"],
            "zoom_thumbnails_loaded_s": round(zoom_loaded["ms"] / 1000, 3),
            "path_p50_ms": round(float(np.median(times)), 1),
            "path_p90_ms": round(float(np.percentile(times, 90)), 1),
            "server_rss_gb": round(rss, 3), "server_peak_rss_gb": round(peak, 3)}


def _painted(browser, base: str):
    """A new page (its own context: an empty cache) on the explorer, its map painted."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/", wait_until="load")
    page.wait_for_selector("#map[data-painted='1']", state="attached", timeout=600_000)
    return page


def _zoom(page, centre: tuple[float, float]) -> dict:
    """Zoom in on ``centre``, doubling the scale until thumbnails show; the last zoom's
    figures (ms until every thumbnail on screen is drawn, mode, thumbnails drawn)."""
    scale = page.evaluate("() => xdegMap.view.scale")
    zoom: dict = {}
    for _ in range(12):
        scale *= 2
        zoom = page.evaluate(ZOOM, [*centre, scale])
        if zoom["mode"] == "thumbnails":
            break
    return zoom


def _uv(base: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    with urllib.request.urlopen(f"{base}/api/map/points", timeout=60) as r:
        body = r.read()
    return (np.frombuffer(body, "<f4", n, 0), np.frombuffer(body, "<f4", n, 4 * n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.explorer_scale",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="images of the measured folder")
    ap.add_argument("--reference-n", type=int, default=1_000, help="images of the reference")
    ap.add_argument("--pairs", type=int, default=30, help="path requests timed")
    ap.add_argument("--screenshots", type=Path, default=None, help="folder for screenshots")
    ap.add_argument("--folder", type=Path, default=None,
                    help="build the measured data folder here, or reuse the one built there")
    args = ap.parse_args(argv)
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xdeg-explorer-scale-") as tmp, chromium() as b:
        ref = measure(b, Path(tmp) / "ref", args.reference_n, args.pairs, None)
        big = measure(b, args.folder or Path(tmp) / "big", args.n, args.pairs,
                      args.screenshots)
    for r in (ref, big):
        print(f"{r['n']:>9,} images: server answers after {r['server_ready_s']} s (path finder "
              f"{r['finder_ready_s']} s), first paint {r['first_paint_s']} s, zoom to "
              f"{r['zoom_thumbnails']} thumbnails {r['zoom_thumbnails_s']} s (loaded: "
              f"{r['zoom_thumbnails_loaded_s']} s), path p50 "
              f"{r['path_p50_ms']} ms, server {r['server_rss_gb']} GB "
              f"(peak {r['server_peak_rss_gb']} GB; folder built in {r['build_s']} s)")
    keys = ("server_ready_s", "finder_ready_s", "first_paint_s", "zoom_thumbnails_s",
            "zoom_thumbnails_loaded_s", "path_p50_ms", "server_rss_gb")
    ratios = {k: round(big[k] / ref[k], 2) if ref[k] else None for k in keys}
    print(f"{args.n:,} vs {args.reference_n:,} images: "
          + ", ".join(f"{k} x{v}" for k, v in ratios.items()))
    print(json.dumps({"benchmark": "explorer_scale", **big, "reference": ref,
                      "ratios": ratios}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
