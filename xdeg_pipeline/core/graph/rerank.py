"""The rerank of the kNN candidates by the full features (issue 21): the chord distance of each
candidate pair, carried from the previous table where it holds the pair, and each image's k
nearest of its candidates by it, keeping the previous nearest on an update (so an image's list
changes only for an arrival that is nearer in the full features)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from xdeg_pipeline.core.graph.knn import (
    carried_values,
    edge_frame,
    keep_nearest,
    nearest_positions,
)


def chord_distances(full: np.ndarray, src: np.ndarray, dst: np.ndarray,
                    where: np.ndarray | None = None) -> np.ndarray:
    """The chord distance (float32) of each pair ``(src[i], dst[i])`` of row ids by the rows
    of ``full`` (float32 or float16; normalised here): row id ``r`` is ``full[where[r]]``,
    or ``full[r]`` without ``where``. Pairs grouped by source (as in an edge table) read
    each source row once per chunk."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    if where is not None:
        src, dst = where[src], where[dst]
    if full.dtype == np.float16:  # numpy widens float16 at ~4 ns a value, torch ~4x faster
        return _chords_half(full, src, dst)
    inv = np.empty(len(full), dtype=np.float32)  # 1 / row length, a block of rows at a time
    rows = max(1, 16_000_000 // max(full.shape[1], 1))
    for lo in range(0, len(full), rows):
        block = np.asarray(full[lo:lo + rows], dtype=np.float32)
        inv[lo:lo + rows] = 1.0 / np.maximum(np.sqrt(np.einsum("ij,ij->i", block, block)), 1e-12)
    cos = np.empty(len(src), dtype=np.float32)
    step = _pairs_per_chunk(full.shape[1])
    for lo in range(0, len(src), step):
        s, t = src[lo:lo + step], dst[lo:lo + step]
        a = np.asarray(full[s], dtype=np.float32)
        b = np.asarray(full[t], dtype=np.float32)
        cos[lo:lo + step] = np.einsum("ij,ij->i", a, b) * inv[s] * inv[t]
    return np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0))


def _pairs_per_chunk(dim: int) -> int:
    """Pairs compared at once: each side about 1 MB of float32, so that both stay in the CPU
    cache while they are multiplied (at 1,280-d: 2.0 us a pair, 3.5 with 32 MB a side; float16
    rows by torch 4.0 against 10; a 2-core box)."""
    return max(256, (1 << 20) // (4 * max(dim, 1)))


def _chords_half(full: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """:func:`chord_distances` of float16 rows, widened to float32 by torch (its threads)."""
    import torch

    rows = torch.from_numpy(full)
    block = max(1, 16_000_000 // max(full.shape[1], 1))
    inv = torch.empty(len(full), dtype=torch.float32)
    with torch.inference_mode():
        for lo in range(0, len(full), block):
            inv[lo:lo + block] = 1.0 / rows[lo:lo + block].float().norm(dim=1).clamp_min(1e-12)
        cos = torch.empty(len(src), dtype=torch.float32)
        step = _pairs_per_chunk(full.shape[1])
        for lo in range(0, len(src), step):
            s = torch.from_numpy(src[lo:lo + step])
            t = torch.from_numpy(dst[lo:lo + step])
            once, back = torch.unique_consecutive(s, return_inverse=True)
            a = rows.index_select(0, once).float().index_select(0, back)
            b = rows.index_select(0, t).float()
            cos[lo:lo + step] = (a * b).sum(dim=1) * inv[s] * inv[t]
    return np.sqrt(np.maximum(2.0 - 2.0 * cos.numpy(), 0.0))


def rerank_candidates(candidates: pd.DataFrame, k: int,
                      measure: Callable[[np.ndarray, np.ndarray], np.ndarray | None],
                      previous: pd.DataFrame | None = None,
                      old_to_new: np.ndarray | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    """The candidates with the chord distance of their full features (``chord``), the table
    of each source's ``k`` nearest by it, ranked by it (the ``distance`` column stays the
    table's own), and how many pairs were measured.

    The candidates are found in the reduced space, which underestimates the distance of an
    image unlike those its PCA model was fitted on: such an image seems near everything and
    enters many lists (a hub). Measuring the candidates in the full space keeps it out of
    lists it does not belong in.

    ``measure(src, dst)``: the chord distances of those pairs (None: a row has no features,
    then None is returned). With ``previous`` (the candidates of the table this one updates,
    with their ``chord``; ``old_to_new`` as in :func:`carried_values`) only the pairs it does
    not hold are measured, and each kept row's previous ``k`` nearest stay candidates
    (:func:`previous_nearest`)."""
    if previous is None or old_to_new is None:
        chord = np.full(len(candidates), np.nan, dtype=np.float32)
    else:
        chord = carried_values(candidates, previous, "chord", old_to_new)
        extra = previous_nearest(candidates, previous, old_to_new, k, np.isnan(chord))
        candidates = pd.concat([candidates, extra.drop(columns="chord")], ignore_index=True)
        chord = np.concatenate([chord, extra["chord"].to_numpy(np.float32)])
    todo = np.flatnonzero(np.isnan(chord))
    if len(todo):
        got = measure(candidates["source"].to_numpy(np.int64)[todo],
                      candidates["target"].to_numpy(np.int64)[todo])
        if got is None:
            return None
        chord[todo] = got
    candidates = candidates.assign(chord=chord)
    return candidates, keep_nearest(candidates, chord, k), len(todo)


def previous_nearest(edges: pd.DataFrame, old: pd.DataFrame, old_to_new: np.ndarray, k: int,
                     new_pair: np.ndarray) -> pd.DataFrame:
    """The pairs of each kept row's ``k`` nearest by the full features in ``old`` (the previous
    candidates with their ``chord``; ``old_to_new`` as in :func:`carried_values`) that
    ``edges`` (today's candidates; ``new_pair``: which of them ``old`` does not hold) no longer
    holds, with their ``chord``, ranked after the candidates' own (above their largest rank,
    so an update's search never reads them).

    A far arrival that the PCA space places near an image can take one of its candidate
    places and push out an old candidate that was among its k nearest in the full space; kept
    as candidates, the previous nearest change an image's list only for an arrival that is
    nearer in the full space, or a neighbour removed (so its chains stay put). Only the rows
    whose candidates changed are looked at: the work follows what was added."""
    if not len(old) or "chord" not in old.columns or not len(edges):
        none = np.zeros(0, np.int64)
        return edge_frame(none, none, none, none).assign(chord=np.zeros(0, np.float32))
    src = edges["source"].to_numpy(np.int64)
    n = int(max(len(old_to_new), src.max() + 1, edges["target"].max() + 1))
    o_src = old_to_new[old["source"].to_numpy(np.int64)]
    o_dst = old_to_new[old["target"].to_numpy(np.int64)]
    changed = np.zeros(n, bool)
    changed[src[new_pair]] = True  # a new candidate: an old one may have been pushed out
    changed[o_src[(o_src >= 0) & (o_dst < 0)]] = True  # a candidate removed
    after = int(edges["rank"].max())
    kept_before = (o_src >= 0) & (old["rank"].to_numpy(np.int64) > after)
    changed[o_src[kept_before]] = True  # previous nearest kept by the update before
    chord = old["chord"].to_numpy(np.float64)
    look = (o_src >= 0) & (o_dst >= 0) & np.isfinite(chord)
    look[look] = changed[o_src[look]]
    rows = np.flatnonzero(look)
    near, rank = nearest_positions(old["source"].to_numpy(np.int64)[rows],
                                   old["target"].to_numpy(np.int64)[rows], chord[rows], k)
    at = rows[near]
    b_src, b_dst = o_src[at], o_dst[at]
    mine = changed[src]  # the candidates of the changed rows: is a previous nearest among them?
    have = np.sort(src[mine] * n + edges["target"].to_numpy(np.int64)[mine])
    key = b_src * n + b_dst
    pos = np.minimum(np.searchsorted(have, key), max(len(have) - 1, 0))
    lost = ~(have[pos] == key) if len(have) else np.ones(len(key), bool)
    extra = edge_frame(b_src[lost], b_dst[lost], old["distance"].to_numpy(np.float32)[at][lost],
                   after + rank[lost])
    return extra.assign(chord=chord[at][lost].astype(np.float32))
