"""The explorer's first paint of a large map in a headless browser, against a small one.

    python -m benchmarks.map_paint [--n 10000] [--reference-n 100] [--screenshot DIR]

Builds two synthetic data folders (``xdeg_pipeline_tests.helpers.synthetic_home``: real image
files, thumbnails, atlases and a graph made by core, random features and a random map: what
is measured is the page, not the build), serves each with the explorer and opens it in
headless Chromium: milliseconds from navigation to the map's first paint (``window.
xdegMapPaint``), from the map's request to its paint, and of one redraw (``xdegMap.draw()``
to the next frame). The ``--reference-n`` map, measured the same way in the same run, is the
reference of the ratios. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from xdeg_pipeline_tests.helpers.browser import chromium
from xdeg_pipeline_tests.helpers.live_server import running_explorer
from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

REDRAW = """() => new Promise(r => { const t = performance.now();
    window.xdegMap.draw(); requestAnimationFrame(() => r(performance.now() - t)); })"""


def paint(browser, root: Path, n: int, shots: Path | None) -> dict:
    """Build a synthetic folder of ``n`` images, open its explorer, time the map's paint."""
    t0 = time.perf_counter()
    home = build_synthetic_home(root, n=n)
    built = time.perf_counter() - t0
    with running_explorer(home["home"], home["images"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/", wait_until="load")
        page.wait_for_selector("#map[data-painted='1']", state="attached", timeout=300_000)
        first = page.evaluate("window.xdegMapPaint")
        points = int(page.locator("#map").get_attribute("data-points"))
        redraw = page.evaluate(REDRAW)
        if shots is not None:
            page.screenshot(path=str(shots / f"explorer_{n}_map.png"))
        page.close()
    if points != n:
        raise SystemExit(f"the map shows {points} points of {n}")
    return {"images": n, "build_s": round(built, 1),
            "ms_from_navigation": round(first["fromNavigation"]),
            "ms_from_map_request": round(first["fromLoadStart"]), "redraw_ms": round(redraw, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.map_paint",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="images on the measured map")
    ap.add_argument("--reference-n", type=int, default=100, help="images on the reference map")
    ap.add_argument("--screenshot", type=Path, default=None, help="folder for screenshots")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xdeg-map-paint-") as tmp, chromium() as browser:
        ref = paint(browser, Path(tmp) / "small", args.reference_n, args.screenshot)
        big = paint(browser, Path(tmp) / "big", args.n, args.screenshot)
    for r in (ref, big):
        print(f"{r['images']:>7,} images: first paint {r['ms_from_navigation']:,} ms from "
              f"navigation ({r['ms_from_map_request']:,} ms from the map's request), redraw "
              f"{r['redraw_ms']:,} ms (folder built in {r['build_s']} s)")
    ratios = {k: round(big[k] / ref[k], 2) if ref[k] else None
              for k in ("ms_from_navigation", "ms_from_map_request", "redraw_ms")}
    print(f"{args.n:,} vs {args.reference_n:,} images: " +
          ", ".join(f"{k} x{v}" for k, v in ratios.items()))
    print(json.dumps({"benchmark": "map_paint", "map": big, "reference": ref,
                      "ratios": ratios}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
