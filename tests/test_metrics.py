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
