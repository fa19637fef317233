"""Placing new images into a fixed map: openTSNE's partial embedding, exact where it is small.

Each new point gets Gaussian affinities (perplexity ``place_perplexity``) to its nearest mapped
images, starts at the median of their positions and is optimised against the fixed reference
points alone (t-SNE's KL gradient, each new point normalised on its own, as openTSNE's
``transform`` does); the reference never moves.

A few new points against a few thousand mapped ones (every +1 % build of a collection up to
about 10,000 images) are optimised here with the exact gradient in numpy: the same objective
and the same gradient-descent rule as openTSNE, without importing openTSNE (0.9 s, most of it
scikit-learn's import, against 0.15 s for the whole placement of 40 points into 4,000).
Larger placements go to openTSNE, whose Barnes-Hut and FFT sums scale with what is added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from xdeg_pipeline.core.pictures.collection_map import MapParams

# Above this many (new x mapped) pairs openTSNE's approximate sums beat an exact one in numpy:
# 40 x 4,200 pairs take 0.14 s for 250 steps here, 960,000 take 0.75 s (openTSNE: import 0.9 s
# plus 0.5-0.8 s of Barnes-Hut for 40-200 points into 4,200, on a 2-core box).
EXACT_PAIRS = 1_000_000
_BLOCK_PAIRS = 100_000  # (new x mapped) pairs optimised at once: 0.75 us a pair, not 1.5
_NEIGHBOURS = 25  # the median of this many nearest mapped images is a new point's start


def nearest_rows(ref: np.ndarray, new: np.ndarray, k: int, block: int = 1024) -> tuple:
    """Exact k nearest reference rows of each new row: (indices, distances), nearest first."""
    ref = np.asarray(ref, dtype=np.float32)
    ref_sq = np.einsum("ij,ij->i", ref, ref)
    idx = np.empty((len(new), k), dtype=np.int64)
    dist = np.empty((len(new), k), dtype=np.float64)
    for lo in range(0, len(new), block):
        part = np.asarray(new[lo : lo + block], dtype=np.float32)
        d2 = ref_sq[None, :] - 2.0 * part @ ref.T + np.einsum("ij,ij->i", part, part)[:, None]
        np.maximum(d2, 0.0, out=d2)
        near = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else None
        if near is None:
            near = np.tile(np.arange(d2.shape[1]), (len(part), 1))
        rows = np.arange(len(part))[:, None]
        order = np.lexsort((near, d2[rows, near]))  # by distance, ties by index: repeatable
        near = near[rows, order]
        idx[lo : lo + len(part)] = near
        dist[lo : lo + len(part)] = np.sqrt(d2[rows, near])
    return idx, dist


def perplexity_rows(dist: np.ndarray, perplexity: float, tol: float = 1e-8,
                    max_iter: int = 200) -> np.ndarray:
    """Each row's Gaussian affinities over its neighbours (``exp(-beta d^2)``, summing to 1),
    with ``beta`` found by bisection so that the row's perplexity is ``perplexity``."""
    d2 = np.asarray(dist, dtype=np.float64) ** 2
    d2 = d2 - d2[:, :1]  # shifted by the nearest: the same affinities, no underflow
    target = np.log(perplexity)
    beta = np.ones(len(d2))
    lo, hi = np.full(len(d2), -np.inf), np.full(len(d2), np.inf)
    for _ in range(max_iter):
        w = np.exp(-d2 * beta[:, None])
        total = w.sum(axis=1)
        p = w / total[:, None]
        excess = np.log(total) + beta * (d2 * p).sum(axis=1) - target  # entropy - target
        if np.all(np.abs(excess) <= tol):
            break
        sharper = excess > 0
        lo, hi = np.where(sharper, beta, lo), np.where(sharper, hi, beta)
        beta = np.where(sharper, np.where(np.isinf(hi), beta * 2, (beta + hi) / 2),
                        np.where(np.isinf(lo), beta / 2, (beta + lo) / 2))
    return p


def optimise_exact(ref_xy: np.ndarray, start: np.ndarray, idx: np.ndarray, P: np.ndarray,
                   params: MapParams) -> np.ndarray:
    """New points (m, 2) optimised against the fixed ``ref_xy`` with the exact t-SNE gradient
    (``P``: each row's affinities to its neighbours ``idx``), by openTSNE's gradient descent
    for partial embeddings: gains, momentum, gradient and step norms clipped."""
    Y = np.asarray(ref_xy, dtype=np.float64)
    y = np.array(start, dtype=np.float64)
    P = P * 1.5  # exaggeration
    near = Y[idx]
    y_sq = np.einsum("ij,ij->i", Y, Y)
    update, gains = np.zeros_like(y), np.ones_like(y)
    for _ in range(params.place_iter):
        diff = y[:, None, :] - near
        attract = ((P / (1.0 + np.einsum("ijk,ijk->ij", diff, diff)))[:, :, None] * diff).sum(1)
        r2 = np.einsum("ij,ij->i", y, y)[:, None] + y_sq[None, :] - 2.0 * (y @ Y.T)
        q = 1.0 / (1.0 + np.maximum(r2, 0.0))
        q2 = q * q
        repel = (y * q2.sum(axis=1)[:, None] - q2 @ Y) / q.sum(axis=1)[:, None]
        grad = attract - repel
        grad *= np.minimum(1.0, 0.25 / (np.linalg.norm(grad, axis=1) + 1e-6))[:, None]
        gains = np.where(np.sign(update) != np.sign(grad), gains + 0.2, gains * 0.8 + 0.01)
        update = 0.8 * update - 0.1 * gains * grad
        update *= np.minimum(1.0, 5.0 / np.maximum(np.linalg.norm(update, axis=1), 1e-12))[:, None]
        y += update
    return y


def _optimise_opentsne(ref_xy: np.ndarray, start: np.ndarray, idx: np.ndarray,
                       dist: np.ndarray, params: MapParams) -> np.ndarray:
    """The same optimisation by openTSNE (Barnes-Hut below 10,000 mapped images, then FFT)."""
    import scipy.sparse as sp
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import PrecomputedAffinities, joint_probabilities_nn
    from openTSNE.tsne import PartialTSNEEmbedding

    n, k = len(ref_xy), idx.shape[1]
    P = joint_probabilities_nn(
        idx, dist, [min(params.place_perplexity, k / 3)], symmetrize=False,
        normalization="point-wise", n_reference_samples=n, n_jobs=params.n_jobs,
    )
    reference = TSNEEmbedding(
        ref_xy,
        PrecomputedAffinities(sp.csr_matrix((n, n)), normalize=False),  # only its shape is read
        random_state=params.seed,
        n_jobs=params.n_jobs,
        negative_gradient_method="fft" if n >= 10_000 else "bh",
    )
    embedding = PartialTSNEEmbedding(start, reference, P=P, **reference.gradient_descent_params)
    embedding.optimize(
        n_iter=params.place_iter, learning_rate=0.1, exaggeration=1.5, momentum=0.8,
        inplace=True, max_grad_norm=0.25,
    )
    return np.asarray(embedding, dtype=np.float64)


def place_points(ref_X: np.ndarray, ref_xy: np.ndarray, new_X: np.ndarray,
                 params: MapParams) -> np.ndarray:
    """Positions (m, 2) for new rows placed into a fixed map (the reference rows never move)."""
    m, n = len(new_X), len(ref_X)
    if m == 0:
        return np.zeros((0, 2))
    ref_xy = np.asarray(ref_xy, dtype=np.float64)
    if n < 4:  # too few to optimise against: next to the nearest mapped image
        idx, _ = nearest_rows(ref_X, new_X, 1)
        jitter = np.random.default_rng(params.seed).normal(0, 0.05, (m, 2))
        return ref_xy[idx[:, 0]] + jitter
    k = int(min(n, max(3 * params.place_perplexity, _NEIGHBOURS)))
    idx, dist = nearest_rows(ref_X, new_X, k)
    centre = (ref_xy.max(axis=0) + ref_xy.min(axis=0)) / 2  # openTSNE centres the reference
    ref = ref_xy - centre
    start = np.median(ref[idx[:, :_NEIGHBOURS]], axis=1)
    if m * n <= EXACT_PAIRS:
        P = perplexity_rows(dist, min(params.place_perplexity, k / 3))
        rows = max(1, _BLOCK_PAIRS // n)  # new points do not interact: blocks that stay in cache
        return np.concatenate([
            optimise_exact(ref, start[lo : lo + rows], idx[lo : lo + rows], P[lo : lo + rows],
                           params) for lo in range(0, m, rows)]) + centre
    return _optimise_opentsne(ref, start, idx, dist, params) + centre
