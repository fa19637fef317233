"""PCA of image features: fit with fbpca on a bounded sample, transform, save/load as npz.

Every feature row is first L2-normalised (CNN features differ in magnitude; their direction is
what carries the content), then centred on the sample mean and projected on the top principal
axes. Euclidean distances in the result therefore approximate the Euclidean (chord) distance
between the normalised full features, which is the distance paths are judged by.
``components=None`` means no reduction: the transform only normalises and centres.

A reduced row carries one more coordinate: the length of what the axes leave out (its
*residual*). Without it an image unlike those the model was fitted on (a new kind of picture
added while the model is kept) projects short, near the centre, and so seems near everything:
it entered kNN lists and chains of unrelated images. With it, distances still never exceed the
chord distance, and such an image stays as far from the others as its residual says
(``benchmarks.path_quality --stability``: chains unchanged after 1 % unrelated images, smooth /
steps 7, series 0.84 / 0.815 -> 0.87 / 0.885, Tux 0.85 / 0.835 -> 0.895 / 0.88, flower 0.89 /
0.855 -> 0.885 / 0.87).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xdeg_pipeline.core.storage.atomic import write_with

_FORMAT_VERSION = 1


def l2_normalise(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length (float32); all-zero rows stay zero."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, eps)


@dataclass
class PcaModel:
    """Normalise, centre, project. ``components`` is (n_components, dim) or None (no reduction)."""

    mean: np.ndarray
    components: np.ndarray | None
    explained_variance_ratio: np.ndarray
    n_samples_fit: int

    @property
    def dim_in(self) -> int:
        return int(self.mean.shape[0])

    @property
    def axes(self) -> int:
        """Axes a row is projected on (the input dimension when the model does not reduce)."""
        return self.dim_in if self.components is None else int(self.components.shape[0])

    @property
    def dim_out(self) -> int:
        """Output columns: the axes, and the residual when the model reduces."""
        return self.axes + (self.components is not None)

    def transform(self, X: np.ndarray, batch: int = 65_536) -> np.ndarray:
        """Features (n, dim_in) -> (n, dim_out) float32 (the axes, then the residual), in
        batches to bound memory."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.dim_in:
            raise ValueError(f"expected features of shape (n, {self.dim_in}), got {X.shape}")
        out = np.empty((X.shape[0], self.dim_out), dtype=np.float32)
        mean = self.mean.astype(np.float32)
        comps = (
            None
            if self.components is None
            else np.ascontiguousarray(self.components, dtype=np.float32).T
        )  # one memory layout: identical results before and after save/load
        for lo in range(0, X.shape[0], batch):
            part = l2_normalise(X[lo : lo + batch]) - mean
            if comps is None:
                out[lo : lo + batch] = part
                continue
            axes = part @ comps
            left = np.einsum("ij,ij->i", part, part) - np.einsum("ij,ij->i", axes, axes)
            out[lo : lo + batch, :-1] = axes
            out[lo : lo + batch, -1] = np.sqrt(np.maximum(left, 0.0))
        return out

    def save(self, path: Path) -> None:
        """Write the model to ``path`` (npz, atomic)."""
        arrays = {
            "version": np.array(_FORMAT_VERSION),
            "mean": self.mean.astype(np.float32),
            "has_components": np.array(self.components is not None),
            "components": (
                np.zeros((0, self.dim_in), np.float32)
                if self.components is None
                else self.components.astype(np.float32)
            ),
            "explained_variance_ratio": self.explained_variance_ratio.astype(np.float64),
            "n_samples_fit": np.array(self.n_samples_fit, dtype=np.int64),
        }

        def _write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a file object: np.savez must not append ".npz"
                np.savez(fh, **arrays)

        write_with(Path(path), _write)

    @classmethod
    def load(cls, path: Path) -> PcaModel:
        """Read a model written by :meth:`save` (no pickles are loaded)."""
        with np.load(Path(path), allow_pickle=False) as z:
            version = int(z["version"])
            if version != _FORMAT_VERSION:
                raise ValueError(f"{path}: PCA model format {version}, expected {_FORMAT_VERSION}")
            comps = z["components"] if bool(z["has_components"]) else None
            return cls(
                mean=z["mean"].copy(),
                components=None if comps is None else comps.copy(),
                explained_variance_ratio=z["explained_variance_ratio"].copy(),
                n_samples_fit=int(z["n_samples_fit"]),
            )


def fit_pca(
    X: np.ndarray, n_components: int | None, max_samples: int = 50_000, seed: int = 0
) -> PcaModel:
    """Fit on at most ``max_samples`` rows (a seeded random sample) with ``fbpca.pca``.

    ``n_components`` None or >= the feature dimension gives a model without reduction. With
    fewer samples than components the rank is capped at the sample count (distances between
    the fitted rows are then preserved exactly).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a non-empty 2-D feature array, got shape {X.shape}")
    n, dim = X.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_samples, replace=False)) if n > max_samples else None
    sample = l2_normalise(X if rows is None else X[rows]).astype(np.float64)
    mean = sample.mean(axis=0)
    centred = sample - mean
    total_var = float((centred**2).sum())
    if n_components is not None and n_components < 1:
        raise ValueError(f"n_components must be >= 1 or None, got {n_components}")
    if n_components is None or n_components >= dim:
        return PcaModel(mean.astype(np.float32), None, np.ones(1), sample.shape[0])
    k = min(n_components, sample.shape[0])
    import fbpca

    state = np.random.get_state()  # fbpca draws from numpy's global generator
    try:
        np.random.seed(seed)
        _, s, va = fbpca.pca(centred, k=k, raw=True, n_iter=4)
    finally:
        np.random.set_state(state)
    ratio = (s**2) / total_var if total_var > 0 else np.zeros_like(s)
    return PcaModel(mean.astype(np.float32), va.astype(np.float32), ratio, sample.shape[0])
