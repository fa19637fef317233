"""The map of a collection: a 2-D t-SNE layout of every image from its PCA features.

The first build fits openTSNE on all images. Later builds keep every position already on the
map and only *place* the new images into it (t-SNE's partial embedding, ``map_placement``: each
new point is optimised against the fixed reference points), so adding images moves no existing
image and costs work proportional to what was added: an exact search of each new point's
neighbours among the mapped ones, then a few hundred gradient steps for the new points alone.
The map is refitted from scratch when its settings change or when fewer than
``refit_below`` of the current images are on the old map (it would no longer describe the
collection). Everything is seeded: the same features give the same map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.params import MAP_EXAGGERATION_ITER, MAP_ITER, MAP_THETA
from xdeg_pipeline.core.pictures.map_placement import place_points
from xdeg_pipeline.core.storage.atomic import write_parquet

MAP_COLUMNS = ["content_hash", "x", "y"]


@dataclass(frozen=True)
class MapParams:
    """Settings of the layout (part of the stage's fingerprint: a change refits the map)."""

    perplexity: float = 30.0
    early_exaggeration_iter: int = MAP_EXAGGERATION_ITER  # evidence in core.params
    n_iter: int = MAP_ITER
    theta: float = MAP_THETA  # Barnes-Hut accuracy (openTSNE: 0.5; BH below 10,000 rows, then FFT)
    seed: int = 0
    n_jobs: int = 1  # one thread: the FFT/BH gradient sums are then bit-for-bit repeatable
    place_perplexity: float = 5.0  # openTSNE's default for adding points
    place_iter: int = 250
    refit_below: float = 0.5

    def fit_params(self) -> dict:
        """What a full fit depends on (placement settings excluded)."""
        d = asdict(self)
        for key in ("place_perplexity", "place_iter", "refit_below"):
            d.pop(key)
        return d


@dataclass
class MapResult:
    """The new map table and what building it took."""

    table: pd.DataFrame
    mode: str  # "fit", "place" or "unchanged"
    kept: int
    placed: int
    removed: int
    seconds: float = 0.0


def read_map(path: Path) -> pd.DataFrame | None:
    """The stored map (content_hash, x, y) or None when there is none."""
    path = Path(path)
    if not path.exists():
        return None
    df = pd.read_parquet(path)
    missing = [c for c in MAP_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a collection map (missing {', '.join(missing)})")
    return df[MAP_COLUMNS]


def map_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The map table as it is stored: content_hash, x, y (float64), a fresh index."""
    return table[MAP_COLUMNS].astype({"x": "float64", "y": "float64"}).reset_index(drop=True)


def write_map(table: pd.DataFrame, path: Path) -> Path:
    """Write the map table atomically."""
    return write_parquet(map_frame(table), Path(path))


def _table(hashes: list[str], xy: np.ndarray) -> pd.DataFrame:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"content_hash": hashes, "x": xy[:, 0], "y": xy[:, 1]})


def _tiny_layout(n: int) -> np.ndarray:
    """Positions on a circle for collections too small for t-SNE (fewer than 4 images)."""
    if n == 1:
        return np.zeros((1, 2))
    angle = 2 * np.pi * np.arange(n) / n
    return np.column_stack([np.cos(angle), np.sin(angle)])


def fit_layout(X: np.ndarray, params: MapParams = MapParams()) -> np.ndarray:
    """A fresh t-SNE layout (n, 2) of the rows of ``X`` (seeded, PCA-initialised)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    if n < 4:
        return _tiny_layout(n)
    from openTSNE import TSNE

    perplexity = min(params.perplexity, (n - 1) / 3)
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        early_exaggeration_iter=params.early_exaggeration_iter,
        n_iter=params.n_iter,
        theta=params.theta,
        initialization="pca",
        metric="euclidean",
        n_jobs=params.n_jobs,
        random_state=params.seed,
        verbose=False,
    )
    return np.asarray(tsne.fit(X), dtype=np.float64)


def build_map(
    hashes: list[str],
    X: np.ndarray,
    previous: pd.DataFrame | None,
    params: MapParams = MapParams(),
    refit: bool = False,
) -> MapResult:
    """The map for the images ``hashes`` (rows of ``X``), reusing ``previous`` where it can."""
    import time

    t0 = time.perf_counter()
    hashes = [str(h) for h in hashes]
    X = np.asarray(X, dtype=np.float32)
    if len(hashes) != len(X):
        raise ValueError(f"{len(hashes)} hashes but {len(X)} feature rows")
    row_of = {h: i for i, h in enumerate(hashes)}
    old = previous if previous is not None and not refit else None
    if old is not None:
        old = old[old["content_hash"].isin(row_of)]
    kept = 0 if old is None else len(old)
    if old is None or kept == 0 or kept < params.refit_below * len(hashes):
        table = _table(hashes, fit_layout(X, params))
        removed = 0 if previous is None else int((~previous["content_hash"].isin(row_of)).sum())
        return MapResult(table, "fit", 0, len(hashes), removed, time.perf_counter() - t0)
    removed = len(previous) - kept
    on_map = set(old["content_hash"])
    new = [h for h in hashes if h not in on_map]
    if not new and not removed:
        return MapResult(old.reset_index(drop=True), "unchanged", kept, 0, 0,
                         time.perf_counter() - t0)
    ref_rows = old["content_hash"].map(row_of).to_numpy()
    new_rows = np.array([row_of[h] for h in new], dtype=np.int64)
    xy = place_points(X[ref_rows], old[["x", "y"]].to_numpy(), X[new_rows], params)
    table = pd.concat([old, _table(new, xy)], ignore_index=True)
    return MapResult(table, "place", kept, len(new), removed, time.perf_counter() - t0)
