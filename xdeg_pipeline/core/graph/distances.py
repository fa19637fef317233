"""Distances between feature vectors: the spaces, exact pairs, and blocked all-against-all.

Spaces: ``"l2"`` (Euclidean distance) and ``"cosine"`` (1 - cosine similarity; nmslib's
``cosinesimil`` is accepted as an alias). :func:`pair_distances` is exact (float64 arithmetic,
float32 result) and defines the distance of an edge; :class:`Prepared` rows give blocked float32
BLAS distances, fine for ranking (the chosen pairs are then measured exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPACES = ("l2", "cosine")


def check_space(space: str) -> str:
    """The canonical name of a distance space (ValueError if unknown)."""
    if space == "cosinesimil":
        return "cosine"
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; choose one of {', '.join(SPACES)}")
    return space


# float64 values per operand of one pair_distances chunk: 2 MB, so a chunk's temporaries stay
# in cache and malloc reuses them. 32 MB chunks (before) were fresh pages every time: 22,818
# pairs of 129 floats took 16-18 ms against 4.1-4.3 (p50 of 200; 65,536 to 262,144 values alike)
PAIR_CHUNK_VALUES = 1 << 18


def pair_distances(X: np.ndarray, a: np.ndarray, b: np.ndarray, space: str) -> np.ndarray:
    """Exact distances between rows ``X[a]`` and ``X[b]`` (float32), in chunks.

    A chunk holds ``PAIR_CHUNK_VALUES`` float64 values per operand (2 MB), whatever the number
    of pairs: the distances of 20M kNN pairs take no gigabyte of temporaries."""
    space = check_space(space)
    out = np.empty(len(a), dtype=np.float32)
    step = max(64, PAIR_CHUNK_VALUES // max(X.shape[1] if X.ndim == 2 else 1, 1))
    for lo in range(0, len(a), step):
        xa = X[a[lo : lo + step]].astype(np.float64)
        xb = X[b[lo : lo + step]].astype(np.float64)
        if space == "l2":
            np.subtract(xa, xb, out=xa)  # the same values as ((xa - xb) ** 2), in place
            np.square(xa, out=xa)
            out[lo : lo + step] = np.sqrt(xa.sum(axis=1))
        else:
            na = np.linalg.norm(xa, axis=1)
            nb = np.linalg.norm(xb, axis=1)
            cos = (xa * xb).sum(axis=1) / np.maximum(na * nb, 1e-30)
            out[lo : lo + step] = np.clip(1.0 - cos, 0.0, 2.0)
    return out


@dataclass(frozen=True)
class Prepared:
    """Rows ready for blocked distances: L2-normalised (cosine) or with squared norms (l2)."""

    rows: np.ndarray  # float32, normalised for cosine
    sq: np.ndarray  # squared norms (float64) for l2; empty for cosine
    space: str

    @classmethod
    def of(cls, X: np.ndarray, space: str) -> Prepared:
        space = check_space(space)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if space == "cosine":
            Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-30)
            return cls(Xn, np.zeros(0), space)
        return cls(X, (X.astype(np.float64) ** 2).sum(axis=1), space)

    def subset(self, idx: np.ndarray) -> Prepared:
        """The rows ``idx`` (in that order)."""
        return Prepared(self.rows[idx], self.sq[idx] if len(self.sq) else self.sq, self.space)

    def distances(self, Q: np.ndarray) -> np.ndarray:
        """Distances (float32) from every row of Q (raw vectors) to every prepared row.

        Float32 BLAS with the squared-norm expansion: fine for ranking; exact values of chosen
        pairs come from :func:`pair_distances`.
        """
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        if self.space == "l2":
            D = Q @ self.rows.T
            D *= -2.0
            D += (Q.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)[:, None]
            D += self.sq.astype(np.float32)[None, :]
            np.maximum(D, 0.0, out=D)
            return np.sqrt(D, out=D)
        qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-30)
        D = qn @ self.rows.T
        np.subtract(1.0, D, out=D)
        return np.clip(D, 0.0, 2.0, out=D)
