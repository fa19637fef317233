"""Similarity maps: an exact decomposition of what the kNN distance sees, and, on pairs made
of the same object pasted at known places on different backgrounds, a map whose mass lies on
the object (default backbone, its real embedded weights)."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.features.explain import Explainer, decompose, heat_png, mass_inside
from xdeg_pipeline.core.graph.pca import fit_pca
from xdeg_pipeline.core.params import PCA_COMPONENTS
from xdeg_pipeline_tests.helpers.pasted_pairs import S, pairs

PAIRS, SIDE = 24, 128  # the object covers a third of the picture


@pytest.fixture(scope="module")
def explainer() -> Explainer:
    return Explainer("efficientnet_lite0")


@pytest.fixture(scope="module")
def pasted(explainer: Explainer) -> tuple[list, list, object]:
    ps = pairs(PAIRS, SIDE)
    maps = [explainer.feature_maps([a, b]) for a, _, b, _ in ps]
    feats = np.concatenate([f.mean((2, 3)).numpy() for f in maps])
    return ps, maps, fit_pca(feats, PCA_COMPONENTS)


def test_the_maps_sum_to_the_similarity_the_knn_sees(pasted) -> None:
    _, maps, pca = pasted
    for f in maps[:4]:
        za, zb = pca.transform(f.mean((2, 3)).numpy())
        ma, mb, s = decompose(f[0], f[1], pca.mean, pca.components)
        assert ma.shape == (7, 7) and s == pytest.approx(float(za @ zb), rel=1e-4, abs=1e-6)
        assert mb.sum() == pytest.approx(s, rel=1e-6, abs=1e-9)


def test_the_maps_mass_lies_on_the_shared_object(pasted) -> None:
    ps, maps, pca = pasted
    masses = []
    for f, (_, box_a, _, box_b) in zip(maps, ps):
        ma, mb, _ = decompose(f[0], f[1], pca.mean, pca.components)
        masses.append((mass_inside(ma, box_a, S), mass_inside(mb, box_b, S)))
    m = np.asarray(masses)
    inside = int((m.min(axis=1) >= 0.7).sum())
    print(f"explanation mass inside the object's box: {inside}/{PAIRS} pairs >= 0.70 on both "
          f"maps; min {m.min():.3f}, median {np.median(m):.3f}, box area {SIDE**2 / S**2:.0%}")
    assert inside >= 20 and np.median(m) >= 0.75


def test_mass_inside_spreads_cells_over_pixels() -> None:
    grid = np.zeros((2, 2))
    grid[0, 0] = 1.0
    assert mass_inside(grid, (0, 0, 50, 50), 100) == pytest.approx(1.0)
    assert mass_inside(grid, (0, 0, 25, 50), 100) == pytest.approx(0.5)
    assert mass_inside(-grid, (0, 0, 50, 50), 100) == 0.0


def test_the_png_shows_both_images(explainer: Explainer, pasted) -> None:
    ps, _, _ = pasted
    maps = explainer.maps(ps[0][0], ps[0][2])
    png = heat_png(maps)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(png)).size == (2 * S + 8, S)


def test_the_default_backbone_is_exact_a_class_token_vit_is_not(explainer, tmp_path) -> None:
    from xdeg_pipeline_tests.helpers import tiny_models as tm

    assert explainer.exact
    vit = tm.save_timm(tm.TIMM_VIT, tmp_path / "vit.pth")
    ex = Explainer(tm.TIMM_VIT, str(vit))
    assert not ex.exact and ex.maps(*[np.full((32, 32, 3), v, np.uint8) for v in (90, 200)]
                                    ).map_a.shape == (2, 2)
