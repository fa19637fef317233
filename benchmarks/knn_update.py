"""kNN table: updated for added images vs rebuilt (HNSW), time and recall.

    python -m benchmarks.knn_update [--sizes 4000,20000,50000] [--changes 0.01,0.05,0.1,0.2]
                                    [--partitions P] [--repeat 3]

Clustered synthetic vectors of the PCA dimension (``params.PCA_COMPONENTS``), k and space
from :mod:`xdeg_pipeline.core.params`. For each size: the table of ``n`` rows is built with
HNSW, then ``change * n`` rows are added (and ``change * n / 10`` removed) and the table is
updated (:func:`~xdeg_pipeline.core.graph.knn_update.update_knn_edges`, forced past its own
threshold) or rebuilt (:func:`~xdeg_pipeline.core.graph.knn.knn_edges`), best of ``--repeat``
each; recall against exact search on 500 rows, and on up to 500 of the added rows alone. With
``--partitions P`` the update is also run routed (new rows searched in their nearest of ``P``
k-means partitions, what the stage does above its partition threshold). The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.knn import exact_knn, knn_edges, knn_recall
from xdeg_pipeline.core.graph.knn_update import update_knn_edges


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (max(8, n // 50), d))
    return (centres[rng.integers(0, len(centres), n)] + rng.normal(0, 1, (n, d))
            ).astype(np.float32)


def best_of(fn, *args, repeat: int = 3, **kwargs):
    """(least seconds of ``repeat`` calls, the last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def recall_of_rows(X: np.ndarray, edges, rows: np.ndarray, k: int) -> float:
    """Share of the exact k nearest of ``rows`` that the table lists for them."""
    ids, _ = exact_knn(X, k, params.KNN_SPACE, rows=rows)
    listed = set(zip(edges["source"].tolist(), edges["target"].tolist()))
    return float(np.mean([(int(r), int(t)) in listed for r, row in zip(rows, ids) for t in row]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.knn_update",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4000,20000,50000")
    ap.add_argument("--changes", default="0.01,0.05,0.1,0.2")
    ap.add_argument("--partitions", type=int, default=0, help="also the routed update")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    d, k = params.PCA_COMPONENTS or 128, params.KNN_K
    rows = []
    for n in map(int, args.sizes.split(",")):
        X = clustered(n, d, 0)
        keys = [f"h{i}" for i in range(n)]
        old = knn_edges(X, k=k)
        for change in map(float, args.changes.split(",")):
            m = max(1, round(change * n))
            drop = set(range(0, n, max(1, n // max(1, m // 10))))
            kept = [i for i in range(n) if i not in drop]
            new_keys = [keys[i] for i in kept] + [f"n{j}" for j in range(m)]
            Xn = np.concatenate([X[kept], clustered(m, d, 1 + n) * 1.02])
            new_rows = np.arange(len(kept), len(kept) + min(m, 500))
            t_up, (e_up, info) = best_of(update_knn_edges, keys, old, new_keys, Xn, k=k,
                                         max_change=1.0, repeat=args.repeat)
            t_re, e_re = best_of(knn_edges, Xn, k=k, repeat=args.repeat)
            row = {"n": n, "added": m, "removed": len(drop), "searched": info.searched,
                   "update_s": round(t_up, 3), "rebuild_s": round(t_re, 3),
                   "update_over_rebuild": round(t_up / t_re, 3),
                   "recall_update": round(knn_recall(Xn, e_up, k), 4),
                   "recall_update_new_rows": round(recall_of_rows(Xn, e_up, new_rows, k), 4),
                   "recall_rebuild": round(knn_recall(Xn, e_re, k), 4)}
            line = (f"n={n:6d} +{m:5d} -{len(drop):4d} (searched {info.searched:5d}): update "
                    f"{t_up:7.3f} s, rebuild {t_re:7.3f} s, ratio {t_up / t_re:5.2f}; recall "
                    f"{row['recall_update']:.4f} vs {row['recall_rebuild']:.4f}")
            if args.partitions >= 2:
                t_ro, (e_ro, _) = best_of(update_knn_edges, keys, old, new_keys, Xn, k=k,
                                          max_change=1.0, partitions=args.partitions,
                                          repeat=args.repeat)
                row.update(routed_s=round(t_ro, 3), routed_over_update=round(t_ro / t_up, 3),
                           routed_over_rebuild=round(t_ro / t_re, 3),
                           recall_routed=round(knn_recall(Xn, e_ro, k), 4),
                           recall_routed_new_rows=round(
                               recall_of_rows(Xn, e_ro, new_rows, k), 4))
                line += (f"; routed {t_ro:7.3f} s ({t_ro / t_up:.2f} of the update), recall "
                         f"{row['recall_routed']:.4f}, new rows "
                         f"{row['recall_routed_new_rows']:.4f}")
            rows.append(row)
            print(line)
    print(json.dumps({"d": d, "k": k, "space": params.KNN_SPACE,
                      "partitions": args.partitions, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
