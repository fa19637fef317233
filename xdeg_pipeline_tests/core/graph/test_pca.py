"""PCA: fit on a sample with fbpca, transform, atomic npz save/load."""

from __future__ import annotations

import numpy as np
import pytest

from xdeg_pipeline.core.graph.pca import PcaModel, fit_pca, l2_normalise


@pytest.fixture
def features() -> np.ndarray:
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(12, 96))
    return (rng.normal(size=(600, 12)) @ basis + 0.01 * rng.normal(size=(600, 96))).astype(
        np.float32
    )


def test_fit_reduces_and_components_are_orthonormal(features):
    model = fit_pca(features, 16)
    out = model.transform(features)
    assert out.shape == (600, 17) and out.dtype == np.float32  # 16 axes and the residual
    gram = model.components @ model.components.T
    np.testing.assert_allclose(gram, np.eye(16), atol=1e-4)
    evr = model.explained_variance_ratio
    assert np.all(np.diff(evr) <= 1e-9) and 0.99 < evr.sum() <= 1.0 + 1e-6  # rank-12 data


def test_distances_between_normalised_features_are_kept(features):
    model = fit_pca(features, 16)
    out = model.transform(features)
    full = l2_normalise(features)
    i, j = np.arange(0, 300), np.arange(300, 600)
    d_full = np.linalg.norm(full[i] - full[j], axis=1)
    d_red = np.linalg.norm(out[i] - out[j], axis=1)
    np.testing.assert_allclose(d_red, d_full, atol=2e-3)


def test_an_image_unlike_the_fitted_ones_keeps_its_distance(features):
    """Its residual (what 8 axes of rank-12 data leave out) keeps it from the centre: distances
    stay at most the chord distance, and nearer it than the axes alone say."""
    model = fit_pca(features, 8)
    odd = np.random.default_rng(1).normal(size=(1, 96)).astype(np.float32)
    X = np.vstack([features, odd])
    out, full = model.transform(X), l2_normalise(X)
    d_full = np.linalg.norm(full[:-1] - full[-1], axis=1)
    d_red = np.linalg.norm(out[:-1] - out[-1], axis=1)
    d_axes = np.linalg.norm(out[:-1, :-1] - out[-1, :-1], axis=1)
    assert (d_red <= d_full + 1e-5).all()
    assert np.median(d_red / d_full) > np.median(d_axes / d_full) + 0.05
    np.testing.assert_allclose(np.linalg.norm(out, axis=1),  # nothing lost: |row| = |centred|
                               np.linalg.norm(l2_normalise(X) - model.mean, axis=1), atol=1e-4)


def test_no_reduction_when_components_cover_the_dimension(features):
    for k in (None, 96, 500):
        model = fit_pca(features, k)
        assert model.components is None
        out = model.transform(features)
        assert out.shape == features.shape
        np.testing.assert_allclose(out, l2_normalise(features) - model.mean, atol=1e-6)


def test_sample_bound_and_seed_determinism(features):
    a = fit_pca(features, 8, max_samples=200, seed=3)
    b = fit_pca(features, 8, max_samples=200, seed=3)
    assert a.n_samples_fit == 200
    np.testing.assert_array_equal(a.components, b.components)
    np.testing.assert_array_equal(a.transform(features[:5]), b.transform(features[:5]))


def test_save_load_roundtrip_is_atomic(tmp_path, features):
    model = fit_pca(features, 8)
    path = tmp_path / "pca_model.npz"
    model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pca_model.npz"]  # no temp files left
    back = PcaModel.load(path)
    np.testing.assert_array_equal(back.transform(features), model.transform(features))
    assert back.n_samples_fit == model.n_samples_fit

    plain = fit_pca(features, None)
    plain.save(path)
    assert PcaModel.load(path).components is None


def test_bad_input_is_refused(features):
    model = fit_pca(features, 8)
    with pytest.raises(ValueError):
        model.transform(features[:, :10])
    with pytest.raises(ValueError):
        fit_pca(features[:0], 8)
    with pytest.raises(ValueError):
        fit_pca(features, 0)
