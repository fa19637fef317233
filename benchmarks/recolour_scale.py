"""What marking recoloured steps costs: outlines drawn from thumbnails, and the edges compared.

    python -m benchmarks.recolour_scale [--images N] [--n 1000000] [--k 20] [--seed 0]

1. **Outlines** (the ``image_outlines`` stage's work per new image): ``--images`` thumbnails of
   the demo collection (made once, in memory) drawn as outlines, one thread and the stage's
   threads; reference: decoding the same thumbnails alone (what any reader of them pays).
2. **Edges** (the graph stage's part): ``--n`` random outlines and ``--n x k`` random edges,
   compared and grouped (``core.graph.recolours.recoloured_edges``); reference: the same
   edges' distances in a 128-d space (what the graph already computes per edge, its weights).

Prints seconds, rates, peak memory of part 2 and the ratios against the references measured in
the same run. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from benchmarks.demo_collection import demo_collection
from benchmarks.quality_data import list_images
from xdeg_pipeline.core.graph.distances import pair_distances
from xdeg_pipeline.core.graph.recolours import recoloured_edges
from xdeg_pipeline.core.images.outline import CELLS, outline
from xdeg_pipeline.core.pictures.thumbnails import make_thumbnail
from xdeg_pipeline.core.stages.outlines import MAX_WORKERS


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def _draw(chunk: list[bytes]) -> int:
    for data in chunk:
        outline(_decode(data))
    return len(chunk)


def outlines_part(images: int) -> dict:
    """Seconds to decode, and to decode and draw, ``images`` thumbnails."""
    files = list_images(demo_collection(images))[:images]
    thumbs = [make_thumbnail(p) for p in files]
    t0 = time.perf_counter()
    for data in thumbs:
        _decode(data)
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _draw(thumbs)
    one_s = time.perf_counter() - t0
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    chunks = [thumbs[i:i + 64] for i in range(0, len(thumbs), 64)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        sum(pool.map(_draw, chunks))
    threads_s = time.perf_counter() - t0
    return {"images": len(thumbs), "decode_s": round(decode_s, 3),
            "outline_one_thread_s": round(one_s, 3), "threads": workers,
            "outline_threads_s": round(threads_s, 3),
            "outlines_per_s": round(len(thumbs) / max(threads_s, 1e-9), 1),
            "outline_over_decode": round(one_s / max(decode_s, 1e-9), 2)}


def edges_part(n: int, k: int, seed: int) -> dict:
    """Seconds to mark ``n * k`` random edges of ``n`` random outlines, against their
    distances in a 128-d space."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (-(-n // 6), CELLS), dtype=np.uint8)  # 6 colourings each
    outlines = np.repeat(base, 6, axis=0)[:n]
    outlines ^= rng.integers(0, 3, outlines.shape, dtype=np.uint8)
    eu = rng.integers(0, n, n * k)
    ev = np.minimum(eu + rng.integers(1, 12, n * k), n - 1)  # near in row order: some alike
    has = np.ones(n, bool)
    X = rng.normal(size=(n, 128)).astype(np.float32)
    t0 = time.perf_counter()
    pair_distances(X, eu, ev, "l2")
    reference_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    marked = recoloured_edges(eu, ev, outlines, has)
    mark_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB (Linux: KiB)
    return {"n": n, "edges": int(len(eu)), "marked": int(marked.sum()),
            "mark_s": round(mark_s, 3), "weights_s": round(reference_s, 3),
            "mark_over_weights": round(mark_s / max(reference_s, 1e-9), 2),
            "peak_rss_gib": round(peak, 2), "outlines_gib": round(outlines.nbytes / 2**30, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    drawn = outlines_part(args.images)
    print(f"outlines: {drawn}")
    marked = edges_part(args.n, args.k, args.seed)
    print(f"edges: {marked}")
    print(json.dumps({"outlines": drawn, "edges": marked}))


if __name__ == "__main__":
    main()
