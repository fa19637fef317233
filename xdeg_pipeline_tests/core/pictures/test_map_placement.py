"""Placing new images into a fixed map: exact in numpy where small, openTSNE where large."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from xdeg_pipeline.core.pictures import map_placement
from xdeg_pipeline.core.pictures.collection_map import MapParams, fit_layout
from xdeg_pipeline.core.pictures.map_placement import nearest_rows, perplexity_rows, place_points
from xdeg_pipeline_tests.helpers.feature_clusters import clusters

FAST = MapParams(early_exaggeration_iter=100, n_iter=150, place_iter=100)


def _mapped(n_per: int = 60, new_per: int = 4) -> tuple:
    """(reference features, their layout, new features, new labels, reference labels)."""
    X, label = clusters(n_per + new_per, seed=5)
    new = np.concatenate([np.arange(c * (n_per + new_per), c * (n_per + new_per) + new_per)
                          for c in range(3)])
    ref = np.setdiff1d(np.arange(len(X)), new)
    return X[ref], fit_layout(X[ref], FAST), X[new], label[new], label[ref]


def test_affinities_have_the_asked_perplexity_even_for_nearly_tied_neighbours() -> None:
    rng = np.random.default_rng(0)
    dist = np.sort(rng.uniform(0.5, 3.0, (20, 25)), axis=1)
    dist[0] = 0.3735 + np.arange(25) * 1e-3  # nearly tied: a very sharp kernel is needed
    P = perplexity_rows(dist, 5.0)
    assert np.allclose(P.sum(axis=1), 1.0)
    perplexity = np.exp(-(P * np.log(np.where(P > 0, P, 1.0))).sum(axis=1))
    assert np.allclose(perplexity, 5.0, atol=1e-4)
    assert (np.diff(P, axis=1) <= 1e-12).all(), "nearer neighbours weigh more"


def test_exact_placement_agrees_with_opentsne(monkeypatch: pytest.MonkeyPatch) -> None:
    ref_X, ref_xy, new_X, new_label, ref_label = _mapped()
    exact = place_points(ref_X, ref_xy, new_X, FAST)
    monkeypatch.setattr(map_placement, "EXACT_PAIRS", 0)
    by_opentsne = place_points(ref_X, ref_xy, new_X, FAST)
    span = np.ptp(ref_xy, axis=0).max()
    assert np.median(np.linalg.norm(exact - by_opentsne, axis=1)) < 0.01 * span
    centroids = np.array([ref_xy[ref_label == c].mean(0) for c in range(3)])
    for placed in (exact, by_opentsne):
        home = np.argmin(((placed[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        assert (home == new_label).all(), "each new image lands by its own cluster"


def test_blocks_of_new_points_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    ref_X, ref_xy, new_X, _, _ = _mapped()
    whole = place_points(ref_X, ref_xy, new_X, FAST)
    monkeypatch.setattr(map_placement, "_BLOCK_PAIRS", len(ref_X) * 5)  # 5 new points a block
    assert np.allclose(place_points(ref_X, ref_xy, new_X, FAST), whole, rtol=0, atol=1e-9)


def test_nearest_rows_are_exact_and_ordered() -> None:
    X, _ = clusters(30, seed=2)
    idx, dist = nearest_rows(X[5:], X[:5], 7)
    full = np.linalg.norm(X[:5, None] - X[None, 5:], axis=-1)
    assert np.array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :7])
    assert np.allclose(dist, np.sort(full, axis=1)[:, :7], atol=1e-4)


def test_a_small_placement_does_not_import_opentsne() -> None:
    code = (
        "import sys, numpy as np\n"
        "from xdeg_pipeline.core.pictures.collection_map import MapParams\n"
        "from xdeg_pipeline.core.pictures.map_placement import place_points\n"
        "rng = np.random.default_rng(0)\n"
        "xy = place_points(rng.normal(size=(500, 8)), rng.normal(size=(500, 2)),\n"
        "                  rng.normal(size=(5, 8)), MapParams(place_iter=20))\n"
        "assert xy.shape == (5, 2) and np.isfinite(xy).all()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openTSNE', 'sklearn')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
