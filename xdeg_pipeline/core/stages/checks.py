"""What the asset checks verify, Dagster-free: each returns (passed, metadata).

The two that read data (coverage and finiteness of every shard, kNN recall) keep their last
outcome in the state folder with a key made of the states and files they read (stage output
fingerprints, and each file's size and modification time); while the key is the same, as in
a build with nothing changed, the outcome is reused instead of read again. The feature check
also keeps each shard's figures: after a small change it reads whole only the shards that
changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.storage.atomic import write_text
from xdeg_pipeline.core.storage.feature_table import read_feature_hashes
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.shards import SHARD_KEYS, shard_of
from xdeg_pipeline.core.storage.state import fingerprint, read_state
from xdeg_pipeline.core.storage.tables import read_feature_table, read_rejected

MIN_EXPLAINED_VARIANCE = 0.5
MIN_KNN_RECALL = 0.95
CheckOutcome = tuple[bool, dict[str, Any]]


def _file_stamps(paths: list[Path]) -> list[Any]:
    out: list[Any] = []
    for p in paths:
        try:
            st = p.stat()
            out.append((p.name, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((p.name, None))
    return out


def memoised(files: Layout, name: str, stages: tuple[str, ...], paths: list[Path],
             compute: Callable[[], CheckOutcome]) -> CheckOutcome:
    """``compute()``, or its recorded outcome while ``stages``' output fingerprints and the
    files ``paths`` are those it was computed from."""
    key = fingerprint([read_state(files.home, s).get("output_fingerprint") for s in stages],
                      _file_stamps(paths))
    record = files.state_file(f"check.{name}")
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return bool(saved["passed"]), dict(saved["metadata"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    passed, metadata = compute()
    _remember(record, json.dumps({"key": key, "passed": bool(passed), "metadata": metadata},
                                 default=str))
    return passed, metadata


def _remember(record: Path, text: str) -> None:
    """Write a check's record (atomically); where it cannot be written (a full disk...), the
    check's outcome stands and is only read again next time."""
    try:
        write_text(text, record)
    except OSError:
        pass


def features_complete_and_finite(files: Layout) -> CheckOutcome:
    """Every manifest image has features in its shard or a recorded rejection, every shard is
    up to date, and every value is finite (one shard in memory at a time)."""
    paths = [files.raw_images, files.rejected_images,
             *(files.image_features_shard(p) for p in SHARD_KEYS)]
    return memoised(files, "features_complete_and_finite", ("raw_images", "image_features"),
                    paths, lambda: _features_complete_and_finite(files))


def _features_complete_and_finite(files: Layout) -> CheckOutcome:
    manifest = pd.read_parquet(files.raw_images, columns=["name", "content_hash"])
    stale = list(read_state(files.home, "image_features").get("stale_shards", SHARD_KEYS))
    have: set[str] = set()
    non_finite = misplaced = 0
    for hashes, (bad, wrong) in _shard_figures(files, [s for s in SHARD_KEYS if s not in stale]):
        have.update(hashes)
        non_finite += bad
        misplaced += wrong
    rejected = read_rejected(files.rejected_images)
    failed_names = set(rejected.loc[rejected["stage"] == "features", "name"])
    missing = manifest[~manifest["content_hash"].isin(have) & ~manifest["name"].isin(failed_names)]
    return missing.empty and non_finite == 0 and not stale and misplaced == 0, {
        "missing": len(missing),
        "missing_examples": ", ".join(missing["name"].head(5)),
        "rows_with_nan_or_inf": non_finite,
        "stale_shards": ", ".join(stale),
        "rows_in_wrong_shard": misplaced,
    }


def _shard_figures(files: Layout, shards: list[str]) -> list[tuple[list[str], tuple[int, int]]]:
    """Each shard's hashes with its rows holding NaN or inf and its rows in the wrong shard.
    The figures of a shard whose file is as it was last time (size, mtime) are taken from
    the record (``check.feature_shards``), its hashes alone read: after a few images are
    added, only the shards they went to are read whole."""
    record = files.state_file("check.feature_shards")
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    out, figures = [], {}
    for shard in shards:
        path = files.image_features_shard(shard)
        if not path.exists():
            continue
        stamp = _file_stamps([path])[0]
        saved = known.get(shard) if isinstance(known, dict) else None
        if (isinstance(saved, dict) and saved.get("stamp") == list(stamp)
                and isinstance(saved.get("non_finite"), int)
                and isinstance(saved.get("misplaced"), int)):
            hashes, counts = read_feature_hashes(path), (saved["non_finite"], saved["misplaced"])
        else:  # new, changed, or a record that is not ours: read whole
            hashes, X = read_feature_table(path)
            counts = (int((~np.isfinite(X)).any(axis=1).sum()) if X.size else 0,
                      sum(shard_of(h) != shard for h in hashes))
        figures[shard] = {"stamp": list(stamp), "non_finite": counts[0], "misplaced": counts[1]}
        out.append((hashes, counts))
    if figures != known:
        _remember(record, json.dumps(figures))
    return out


def pca_explained_variance(files: Layout) -> CheckOutcome:
    """The PCA keeps at least :data:`MIN_EXPLAINED_VARIANCE` of the variance."""
    ev = float(read_state(files.home, "pca_features").get("explained_variance", 0.0))
    return ev >= MIN_EXPLAINED_VARIANCE, {
        "explained_variance": round(ev, 4), "threshold": MIN_EXPLAINED_VARIANCE,
    }


def knn_recall(files: Layout) -> CheckOutcome:
    """The approximate kNN finds at least :data:`MIN_KNN_RECALL` of the exact neighbours of a
    sample of images: its candidates in the PCA space (the search; the k kept of them by the
    full features are exact by construction), or the table of a folder built before them."""
    table = files.knn_candidates if files.knn_candidates.exists() else files.knn_edges
    return memoised(files, "knn_recall", ("pca_features", "knn_edges"),
                    [files.pca_features, table], lambda: _knn_recall(files, table))


def _knn_recall(files: Layout, table: Path) -> CheckOutcome:
    from xdeg_pipeline.core.graph.knn import knn_recall as measure

    _, Z = read_feature_table(files.pca_features)
    edges = pd.read_parquet(table)
    k = int(edges.groupby("source").size().max()) if len(edges) else 0
    k = min(k, int(read_state(files.home, "knn_edges").get("k") or k))
    edges = edges[edges["rank"] <= k]  # the candidates' first k: the search at the graph's k
    recall = measure(Z, edges, k=k, sample=min(500, len(Z)), space=params.KNN_SPACE)
    return recall >= MIN_KNN_RECALL, {
        "recall": round(float(recall), 4), "k": k, "threshold": MIN_KNN_RECALL,
    }


def graph_connected(files: Layout) -> CheckOutcome:
    """The graph is one connected component."""
    state = read_state(files.home, "similarity_graph")
    components = int(state.get("components", -1))
    return components == 1, {"components": components, "vertices": state.get("vertices", 0)}


def requested_endpoints_exist(files: Layout) -> CheckOutcome:
    """Every requested pair got a chain (no row in the failed-requests table)."""
    path = files.failed_requests
    failed = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    return failed.empty, {
        "failed_requests": len(failed),
        "errors": "; ".join(failed["error"].head(5)) if len(failed) else "",
    }
