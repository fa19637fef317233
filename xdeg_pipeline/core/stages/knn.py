"""knn_edges: the k nearest neighbours of every image as an edge table.

A build after new images (and the same PCA model) updates the previous table instead of
rebuilding it (:mod:`xdeg_pipeline.core.graph.knn_update`): the rows are matched by content hash
through ``knn_rows.parquet``, written beside the table. Anything that does not match (another
PCA model, k, space, row count, a rows file of another table) rebuilds.

Above ``settings.knn_partition_above`` images a build computes the table in k-means partitions
(:mod:`xdeg_pipeline.core.graph.knn_partitioned`): as tasks on the Dask cluster when the stage
runs as a Dask task (``build_dask``), else one after another in this process. The threshold is
not part of the stage's fingerprint (either table is a kNN table of the same vectors); the
metadata says which was made (``method``). Updates for new images work on either table;
above the threshold an update routes the new images to their nearest partitions (``method``
update with ``partitions``) instead of comparing them with every image.

Any of these finds ``params.KNN_RERANK x k`` candidates per image in the PCA space
(``knn_candidates.parquet``, what the next update starts from); ``knn_edges.parquet`` keeps
each image's k nearest of them by the chord distance of its full features (image_features), so
that a new kind of picture, which the kept PCA model places near everything, does not enter
every list (``rerank`` in the state and metadata; 1: the PCA space's own k nearest, when the
PCA does not reduce or above ``params.KNN_RERANK_MAX`` images). The candidates keep their
chord distance (``chord``): an update measures only the pairs it has not measured before, and
reads the features of their rows only (``pairs_measured`` in the metadata). An update also
keeps each kept image's previous k nearest among its candidates (ranked after the search's
own), so that an arrival that takes a candidate place does not change the list unless it is
nearer in the full features: chains among the old images stay put.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.arrays import sorted_unique
from xdeg_pipeline.core.graph.knn import knn_edges as compute_knn_edges
from xdeg_pipeline.core.graph.knn_partitioned import (
    cluster_runner,
    partition_count,
    partitioned_knn_edges,
)
from xdeg_pipeline.core.graph.knn_update import update_knn_edges
from xdeg_pipeline.core.graph.pca import l2_normalise
from xdeg_pipeline.core.graph.rerank import chord_distances, rerank_candidates
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.shards import feature_shard_files
from xdeg_pipeline.core.storage.state import fingerprint_lines
from xdeg_pipeline.core.storage.tables import read_feature_table

NAME = "knn_edges"
FULL_FLOAT32_MAX_BYTES = 1 << 30  # the full features held as float32 up to this, else float16


def knn_edges(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Edges of every row of pca_features to its ``k`` nearest (reused while pca_features,
    ``k`` and the space are unchanged; updated for new rows when only rows changed)."""
    files = settings.layout
    stage = Stage(NAME, partial(_neighbours, settings.k, settings.knn_partition_above),
                  upstream=("pca_features", "image_features"),
                  params=(settings.k, params.KNN_SPACE, params.KNN_RERANK),
                  outputs=(files.knn_edges, files.knn_candidates, files.knn_rows))
    return run_stage(stage, files, report)


def _previous(files: Layout, previous: dict, model_id: str | None, k: int, rerank: int
              ) -> tuple[list[str], pd.DataFrame] | str:
    """The previous candidates and their row keys, or why they cannot be updated."""
    if not previous:
        return "first build"
    if previous.get("pca_model") != model_id or model_id is None:
        return "new PCA model"
    if previous.get("k") != k or previous.get("space") != params.KNN_SPACE:
        return "k or space changed"
    if previous.get("rerank") != rerank:
        return "rerank changed"
    try:
        rows = pd.read_parquet(files.knn_rows)["content_hash"].tolist()
        candidates = pd.read_parquet(files.knn_candidates)
    except (OSError, KeyError, ValueError) as exc:
        return f"previous table unreadable ({type(exc).__name__})"
    if (fingerprint_lines(rows) != previous.get("rows_fingerprint")
            or len(candidates) != previous.get("candidates")):
        return "previous table does not match its state"
    return rows, candidates


def rerank_applies(upstream: dict, n: int) -> bool:
    """Whether the table is reranked by the full features: the PCA reduced them and the
    collection has at most ``params.KNN_RERANK_MAX`` images."""
    pca = upstream.get("pca_features") or {}
    return params.KNN_RERANK > 1 and bool(pca.get("n_components")) and 0 < n <= (
        params.KNN_RERANK_MAX)


def full_features(files: Layout, upstream: dict, index: pd.Index, rows: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The image features of the table's rows ``rows`` (``index``: the rows' content hashes;
    L2-normalised; float16 above 1 GB of float32), read shard by shard, and where each row is
    among them (``where[row]``; -1: not read); None when one of them has no features."""
    features = upstream.get("image_features") or {}
    small = len(rows) * int(features.get("dim", 0) or 0) * 4 <= FULL_FLOAT32_MAX_BYTES
    wanted = np.zeros(len(index), bool)
    wanted[rows] = True
    where = np.full(len(index), -1, dtype=np.int64)
    parts = []
    got = 0
    for path in feature_shard_files(files, features):
        hashes, X = read_feature_table(path)
        at = index.get_indexer(hashes)
        take = np.flatnonzero(at >= 0)
        take = take[wanted[at[take]]]
        where[at[take]] = got + np.arange(len(take))
        got += len(take)
        parts.append(l2_normalise(X[take]).astype(np.float32 if small else np.float16))
        del X
    if not parts or (where[rows] < 0).any():
        return None
    return np.concatenate(parts), where


def rerank(files: Layout, upstream: dict, keys: list[str], candidates: pd.DataFrame,
           old: tuple[list[str], pd.DataFrame] | str, k: int
           ) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    """:func:`.rerank.rerank_candidates` by the image features (read for the measured pairs'
    rows only): an update (``old``, as :func:`_previous` gives it) measures only the pairs the
    previous candidates did not hold, and keeps each kept row's previous ``k`` nearest among
    the candidates, so its list changes only for what is nearer in the full features. None
    when a row has no features."""
    index = pd.Index(keys)

    def measure(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
        got = full_features(files, upstream, index, sorted_unique(np.concatenate([src, dst])))
        return None if got is None else chord_distances(got[0], src, dst, got[1])

    if isinstance(old, str):
        return rerank_candidates(candidates, k, measure)
    return rerank_candidates(candidates, k, measure, old[1], index.get_indexer(old[0]))


def build_table(Z: np.ndarray, k: int, partition_above: int) -> tuple[pd.DataFrame, dict]:
    """A fresh table: one index, or k-means partitions above ``partition_above`` rows (0:
    never; on the Dask cluster when this runs as a Dask task); and how it was made."""
    if not partition_above or len(Z) <= partition_above:
        return compute_knn_edges(Z, k=k, space=params.KNN_SPACE), {"method": "single"}
    edges, info = partitioned_knn_edges(Z, k=k, space=params.KNN_SPACE, runner=cluster_runner())
    return edges, info.facts()


def _neighbours(k: int, partition_above: int, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    keys, Z = read_feature_table(files.pca_features)
    ranks = params.KNN_RERANK if rerank_applies(inputs.upstream, len(keys)) else 1
    kk = min(k, max(len(Z) - 1, 1))
    kc = min(ranks * k, max(len(Z) - 1, 1))  # candidates per image
    model_id = reduction_id(inputs.upstream.get("pca_features", {}))
    old = _previous(files, inputs.previous, model_id, k, ranks)
    build = partial(build_table, k=kc, partition_above=partition_above)
    if isinstance(old, str):
        (edges, how), mode, reason, searched = build(Z), "build", old, len(Z)
    else:
        rebuilt: dict = {}

        def rebuild(X: np.ndarray) -> pd.DataFrame:
            edges, facts = build(X)
            rebuilt.update(facts)
            return edges

        big = bool(partition_above) and len(Z) > partition_above
        runner = cluster_runner() if big else None
        partitions = partition_count(len(Z)) if big else None
        edges, info = update_knn_edges(*old, keys, Z, k=kc, space=params.KNN_SPACE,
                                       build=rebuild, partitions=partitions, runner=runner)
        mode, searched = info.mode, info.searched
        reason = "" if info.reason == "routed" else info.reason
        how = rebuilt or {"method": "update"}
        if info.reason == "routed":  # new rows searched in their nearest partitions
            how = {"method": "update", "partitions": partitions,
                   "engine": "local" if runner is None else "dask"}
    candidates, measured = edges, 0
    ranked = rerank(files, inputs.upstream, keys, edges, old, kk) if ranks > 1 else None
    if ranked is not None:
        candidates, edges, measured = ranked
    elif ranks > 1:  # a row without features: the PCA space's own order, rebuilt next time
        inputs.warn("knn_edges: some images have no features to rerank by; the table keeps "
                    "the nearest in the PCA space")
        ranks, edges = 1, edges[edges["rank"] <= kk].reset_index(drop=True)
    inputs.log(f"knn_edges: {mode}" + (f" ({reason})" if reason else "")
               + f", {searched} of {len(Z)} rows searched, {how['method']}"
               + (f" ({how['partitions']} partitions, {how['engine']})"
                  if "partitions" in how else "")
               + (f", the {kk} nearest of {kc} candidates in the full features ({measured} "
                  f"of {len(candidates)} pairs measured)" if ranks > 1 else ""))
    state = {"edges": len(edges), "candidates": len(candidates), "images": len(Z), "k": k,
             "rerank": ranks, "space": params.KNN_SPACE, "pca_model": model_id,
             "rows_fingerprint": fingerprint_lines(keys)}
    # the rows first: a table replaced without its rows never matches the recorded state
    return Outcome(state=state,
                   writes={files.knn_rows: pd.DataFrame({"content_hash": keys}),
                           files.knn_candidates: candidates, files.knn_edges: edges},
                   facts={"mode": mode, "rows_searched": searched, "rerank": ranks,
                          "pairs_measured": measured, **how})


def reduction_id(pca_state: dict) -> str | None:
    """What the vectors were reduced by: the PCA model and what a reduced row holds (vectors of
    another reduction are not comparable, so the previous table cannot be updated)."""
    model_id = pca_state.get("model_id")
    return model_id and f"{model_id}/t{pca_state.get('transform', 1)}"
