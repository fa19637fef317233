"""The vectors of a stored graph's vertices: their rows of ``pca_features``, by content hash.

A query server measures steps that are not edges with them: a skipped series step
(:mod:`xdeg_pipeline.core.paths.skip`) and a pinned chain's step whose edge a rebuild dropped
(:mod:`xdeg_pipeline.core.paths.pinned`). They are the graph's only when an edge's weight is
the distance of its ends there; a table written by a later build is not used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from xdeg_pipeline.core.graph.distances import pair_distances
from xdeg_pipeline.core.storage.feature_table import from_arrow

PROBE_EDGES = 32  # edges measured again to check the vectors are the graph's
HALF_ABOVE = 256 * 2**20  # float32 bytes above which the rows are held as float16 (a million
# images of 129 floats: 258 MB instead of 516; a step measured in them is off by ~1e-3)


def graph_vectors(table: Path, hashes: list[str], eu: np.ndarray, ev: np.ndarray,
                  weights: np.ndarray, metric: str, half_above: int = HALF_ABOVE
                  ) -> tuple[np.ndarray | None, str]:
    """(one row per vertex, "") from the feature table (``hashes``: the vertices' content
    hashes; float32, float16 when float32 would take more than ``half_above`` bytes), or
    (None, why not): the table cannot be read, lacks a vertex, or measures the first
    ``PROBE_EDGES`` edges ``eu[i]-ev[i]`` other than their ``weights``."""
    try:
        got, Z = from_arrow(pq.read_table(table, columns=["content_hash", "feature"]))
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        return None, f"{Path(table).name} could not be read ({exc})"
    index = pd.Index(got)
    if len(hashes) == 0 or not index.is_unique:
        return None, f"{Path(table).name} has no row per image of the graph"
    at = index.get_indexer(hashes)
    if (at < 0).any():
        return None, f"{Path(table).name} lacks {int((at < 0).sum())} image(s) of the graph"
    X = Z if np.array_equal(at, np.arange(len(Z))) else Z[at]  # the table's order: no copy
    k = min(PROBE_EDGES, len(eu))
    if k:
        a, b = np.asarray(eu[:k], np.int64), np.asarray(ev[:k], np.int64)
        again = pair_distances(X, a, b, metric).astype(np.float64)
        if not np.allclose(again, np.asarray(weights[:k], np.float64), rtol=1e-4, atol=1e-5):
            return None, f"{Path(table).name} is not the graph's space (another build's)"
    return (X.astype(np.float16) if X.nbytes > half_above else X), ""
