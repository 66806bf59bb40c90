"""Metrics against exact answers."""

import jax
import numpy as np
import pytest
from scipy import stats

import scoresde as ss


def test_wasserstein_1d_matches_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(1.0, 2.0, size=170)
    assert ss.metrics.wasserstein_1d(x, y) == pytest.approx(
        stats.wasserstein_distance(x, y), rel=1e-10
    )
    # a shift by c moves W1 by exactly c
    assert ss.metrics.wasserstein_1d(x, x + 0.7) == pytest.approx(0.7, rel=1e-12)
    assert ss.metrics.wasserstein_1d(x[:, None], x[:, None]) == 0.0


def test_sliced_wasserstein_of_a_shift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    shift = np.array([3.0, 0.0])
    # each projection sees a shift <theta, shift>; the mean of |cos| over the circle is 2/pi
    sw = ss.metrics.sliced_wasserstein(
        jax.random.key(0), x, x + shift, num_projections=4000
    )
    assert sw == pytest.approx(3.0 * 2 / np.pi, rel=0.02)


def test_mode_weights_are_unbiased_on_exact_samples():
    mix = ss.datasets.get("mixture-1d")
    ys = mix.sample(jax.random.key(0), 50_000)
    np.testing.assert_allclose(
        ss.metrics.mode_weights(mix, ys), [0.3, 0.1, 0.6], atol=0.01
    )
    assert ss.metrics.mode_weight_error(mix, ys) < 0.01
    # samples from one component only carry (almost) all weight there
    ys_right = 6.0 + 2.0 * jax.random.normal(jax.random.key(1), (5000, 1))
    w = ss.metrics.mode_weights(mix, ys_right)
    assert float(w[2]) > 0.9


def test_metric_errors():
    with pytest.raises(ValueError, match="ys"):
        ss.metrics.mode_weights(ss.datasets.get("mixture-1d"), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="xs"):
        ss.metrics.wasserstein_1d(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="shapes"):
        ss.metrics.sliced_wasserstein(
            jax.random.key(0), np.zeros((3, 2)), np.zeros((3, 3))
        )


def test_outlier_fraction_hand_computed():
    # means 1 and 10, stds 0.5 and 2: 6 stds is 3.0 from the first, 12.0 from the second
    mix = ss.datasets.GaussianMixture([0.5, 0.5], [[1.0], [10.0]], [0.5, 2.0])
    # exactly at 6 stds from the nearest component is not an outlier; just past it is
    assert ss.metrics.outlier_fraction(mix, np.array([[4.0], [-2.0]])) == 0.0
    assert ss.metrics.outlier_fraction(mix, np.array([[-2.0 - 1e-9]])) == 1.0
    # 4.0 + 1e-9 is 6 stds (plus a hair) from the first but only 3 from the second
    assert ss.metrics.outlier_fraction(mix, np.array([[4.0 + 1e-9]])) == 0.0
    # 21 is 11 from the second (5.5 stds): in; 34.5 is 24.5 (12.25 stds): out
    ys = np.array([[21.0], [34.5], [-100.0], [np.nan]])
    assert ss.metrics.outlier_fraction(mix, ys) == 0.75
    # a smaller threshold flags the first too
    assert ss.metrics.outlier_fraction(mix, ys, threshold=5.0) == 1.0


def test_outlier_fraction_uses_each_coordinates_std():
    # one component at the origin with stds (1, 0.1): distance sqrt(x^2 + (10 y)^2)
    mix = ss.datasets.GaussianMixture([1.0], [[0.0, 0.0]], [[1.0, 0.1]])
    ys = np.array([[3.6, 0.48], [3.6, 0.4801], [5.9, 0.0], [0.0, 0.61]])
    # 3.6^2 + 4.8^2 = 36 exactly (in), then just past it, then 5.9, then 6.1
    assert ss.metrics.outlier_fraction(mix, ys[:1]) == 0.0
    assert ss.metrics.outlier_fraction(mix, ys) == 0.5


def test_outlier_fraction_of_true_and_far_samples():
    mix = ss.datasets.get("nine-gaussians")
    ys = mix.sample(jax.random.key(0), 20_000)
    assert ss.metrics.outlier_fraction(mix, ys) == 0.0
    # scaled away from the grid by 4x: the far corners (8, 8) are 24 stds out,
    # the centre component stays at the origin
    far = np.asarray(ys) * 4.0
    frac = ss.metrics.outlier_fraction(mix, far)
    assert 0.7 < frac < 1.0
    assert ss.metrics.outlier_fraction(mix, far + 100.0) == 1.0
    one_d = ss.datasets.get("mixture-1d")
    ys_1d = one_d.sample(jax.random.key(1), 20_000)
    assert ss.metrics.outlier_fraction(one_d, ys_1d) == 0.0
    # 25 is 9.5 stds from the mode at 6; -10.5 is 5.5 from the mode at -5
    assert ss.metrics.outlier_fraction(one_d, np.array([[25.0], [-10.5]])) == 0.5


def test_outlier_fraction_errors():
    mix = ss.datasets.get("mixture-1d")
    with pytest.raises(ValueError, match="ys"):
        ss.metrics.outlier_fraction(mix, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="ys"):
        ss.metrics.outlier_fraction(mix, np.zeros((0, 1)))
    with pytest.raises(ValueError, match="threshold"):
        ss.metrics.outlier_fraction(mix, np.zeros((5, 1)), threshold=0.0)
    with pytest.raises(TypeError, match="mixture"):
        ss.metrics.outlier_fraction(ss.datasets.get("two-moons"), np.zeros((5, 2)))
