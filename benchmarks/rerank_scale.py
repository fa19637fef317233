"""The kNN stage's rerank at scale: chord distances of the candidate pairs in the full features,
and each image's k nearest of them.

    python -m benchmarks.rerank_scale [--n 200000] [--dim 1280] [--candidates 60] [--k 20]
                                      [--reference-pairs 2000000] [--added 0.01]

Synthetic features (non-negative, like a CNN's pooled features), held as the stage holds them:
float32 up to 1 GB, float16 above (``knn.FULL_FLOAT32_MAX_BYTES``); ``--candidates`` random
candidates per image, grouped by source as in an edge table. Measures ``chord_distances`` and
``keep_nearest`` (what the stage runs) on all pairs, and on the pairs an update for ``--added``
new images measures (2 x candidates per added image), and what the update does over all
pairs: the chord distances carried from the previous candidates and each changed row's
previous nearest kept (``previous_nearest``; rows changed: those that took in an added image,
2 x candidates of them). The reference, in the same run on the
first ``--reference-pairs`` pairs: the straightforward path (rows widened by numpy in 32 MB
chunks, then a three-key ``lexsort``), its per-pair costs applied to all pairs (its row lengths
once). Prints the seconds and the ratios (reference / now); the peak memory is the measured
path's. Last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd

from xdeg_pipeline.core.graph.knn import carried_values, keep_nearest
from xdeg_pipeline.core.graph.rerank import chord_distances, previous_nearest
from xdeg_pipeline.core.stages.knn import FULL_FLOAT32_MAX_BYTES


def _reference(full: np.ndarray, src: np.ndarray, dst: np.ndarray, k: int
               ) -> tuple[float, float, float]:
    """Seconds of the straightforward path: the row lengths (of every row), the chord
    distances of these pairs, and the three-key sort of them."""
    start = time.perf_counter()
    inv = np.empty(len(full), np.float32)
    for lo in range(0, len(full), 50_000):
        inv[lo:lo + 50_000] = 1.0 / np.linalg.norm(full[lo:lo + 50_000].astype(np.float32),
                                                    axis=1)
    t0 = time.perf_counter()
    cos = np.empty(len(src), np.float32)
    step = max(1, 8_000_000 // full.shape[1])
    for lo in range(0, len(src), step):
        s, t = src[lo:lo + step], dst[lo:lo + step]
        a, b = full[s].astype(np.float32), full[t].astype(np.float32)
        cos[lo:lo + step] = np.einsum("ij,ij->i", a, b) * inv[s] * inv[t]
    chord = np.sqrt(np.maximum(2 - 2 * cos, 0))
    t1 = time.perf_counter()
    order = np.lexsort((dst, chord, src))
    s = src[order]
    rank = np.arange(len(s)) - np.searchsorted(s, s, side="left") + 1
    _ = order[rank <= k]
    return t0 - start, t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.rerank_scale",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000, help="images")
    ap.add_argument("--dim", type=int, default=1280, help="full feature dimension")
    ap.add_argument("--candidates", type=int, default=60, help="candidates per image (3 k)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--reference-pairs", type=int, default=2_000_000)
    ap.add_argument("--added", type=float, default=0.01, help="share added for the update")
    args = ap.parse_args()

    n, d, kc = args.n, args.dim, args.candidates
    rng = np.random.default_rng(0)
    dtype = np.float32 if n * d * 4 <= FULL_FLOAT32_MAX_BYTES else np.float16
    full = np.empty((n, d), dtype)
    for lo in range(0, n, 50_000):
        m = min(50_000, n - lo)
        full[lo:lo + m] = np.abs(rng.standard_normal((m, d), dtype=np.float32))
    src = np.repeat(np.arange(n, dtype=np.int64), kc)
    dst = rng.integers(0, n, n * kc)
    edges = pd.DataFrame({"source": src.astype(np.int32), "target": dst.astype(np.int32),
                          "distance": np.zeros(n * kc, np.float32),
                          "rank": np.tile(np.arange(1, kc + 1, dtype=np.int16), n)})
    print(f"{n} images, {d}-d {np.dtype(dtype).name}, {n * kc} candidate pairs", flush=True)

    t0 = time.perf_counter()
    chord = chord_distances(full, src, dst)
    t_chord = time.perf_counter() - t0
    t0 = time.perf_counter()
    kept = keep_nearest(edges, chord, args.k)
    t_keep = time.perf_counter() - t0
    pairs = int(2 * kc * max(1, round(args.added * n)))
    t0 = time.perf_counter()
    chord_distances(full, src[:pairs], dst[:pairs])
    t_update = time.perf_counter() - t0

    old = edges.assign(chord=chord)
    moved = rng.choice(n * kc, size=min(pairs, n * kc), replace=False)  # arrivals taken in
    target = dst.copy()
    target[moved] = rng.integers(0, n, len(moved))
    new = edges.assign(target=target.astype(np.int32))
    t0 = time.perf_counter()
    carried = carried_values(new, old, "chord", np.arange(n))
    t_carry = time.perf_counter() - t0
    t0 = time.perf_counter()
    extra = previous_nearest(new, old, np.arange(n), args.k, np.isnan(carried))
    t_previous = time.perf_counter() - t0
    del old, new, carried

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # before the reference
    ref_pairs = min(args.reference_pairs, len(src))
    r_norm, r_chord, r_sort = _reference(full, src[:ref_pairs], dst[:ref_pairs], args.k)
    # the reference on all pairs: its row lengths once, its per-pair costs times the pairs
    per = {"chord_us": t_chord / len(src) * 1e6, "sort_us": t_keep / len(src) * 1e6,
           "ref_chord_us": (r_norm + r_chord * len(src) / ref_pairs) / len(src) * 1e6,
           "ref_sort_us": r_sort / ref_pairs * 1e6}
    print(f"chord distances: {t_chord:.1f} s ({per['chord_us']:.2f} us a pair; reference "
          f"{per['ref_chord_us']:.2f}: {per['ref_chord_us'] / per['chord_us']:.2f}x)")
    print(f"k nearest: {t_keep:.1f} s ({per['sort_us']:.3f} us a pair; reference "
          f"{per['ref_sort_us']:.3f}: {per['ref_sort_us'] / per['sort_us']:.2f}x)")
    print(f"an update for {args.added:.0%} added: {pairs} pairs in {t_update:.2f} s "
          f"({t_update / (t_chord + t_keep):.4f} of the whole)")
    print(f"an update's carried chord distances {t_carry:.2f} s; previous nearest kept "
          f"{t_previous:.2f} s ({len(extra)} pairs; {t_previous / (t_chord + t_keep):.3f} of "
          "the whole rerank)")
    print(json.dumps({
        "n": n, "dim": d, "dtype": np.dtype(dtype).name, "pairs": int(len(src)),
        "kept": int(len(kept)), "chord_s": round(t_chord, 2), "keep_nearest_s": round(t_keep, 2),
        "update_pairs": pairs, "update_s": round(t_update, 3),
        "update_carry_s": round(t_carry, 2), "update_previous_nearest_s": round(t_previous, 2),
        "previous_nearest_over_rerank": round(t_previous / (t_chord + t_keep), 4),
        "chord_speedup_vs_reference": round(per["ref_chord_us"] / per["chord_us"], 2),
        "sort_speedup_vs_reference": round(per["ref_sort_us"] / per["sort_us"], 2),
        "reference_pairs": ref_pairs, "peak_rss_gb": round(peak, 2)}))


if __name__ == "__main__":
    main()
