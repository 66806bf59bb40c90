"""The Gaussian-mixture oracle and the exact score against independent answers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import scoresde as ss

from .helpers import all_sdes


SDES = all_sdes()


def _mix_2d():
    return ss.datasets.GaussianMixture(
        weights=[0.2, 0.5, 0.3],
        means=[[-2.0, 1.0], [0.5, 0.0], [3.0, -2.0]],
        stds=[[0.5, 1.0], [0.3, 0.3], [1.5, 0.7]],
    )


def test_log_prob_matches_scipy():
    mix = ss.datasets.get("mixture-1d")
    ys = np.linspace(-12, 14, 53)
    ref = np.log(
        0.3 * stats.norm.pdf(ys, -5, 1)
        + 0.1 * stats.norm.pdf(ys, 0, 0.5)
        + 0.6 * stats.norm.pdf(ys, 6, 2)
    )
    ours = jax.vmap(mix.log_prob)(jnp.asarray(ys[:, None], jnp.float32))
    np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=2e-6)

    mix2 = _mix_2d()
    y = np.array([0.7, -0.4])
    ref2 = np.log(
        sum(
            w * stats.multivariate_normal.pdf(y, m, np.diag(np.asarray(s) ** 2))
            for w, m, s in zip(
                [0.2, 0.5, 0.3], np.asarray(mix2.means), np.asarray(mix2.stds)
            )
        )
    )
    assert float(mix2.log_prob(jnp.asarray(y, jnp.float32))) == pytest.approx(
        ref2, rel=1e-5
    )


def test_moments():
    mix = ss.datasets.get("mixture-1d")
    w, mu, sd = (
        np.array([0.3, 0.1, 0.6]),
        np.array([-5.0, 0.0, 6.0]),
        np.array([1.0, 0.5, 2.0]),
    )
    mean = np.sum(w * mu)
    var = np.sum(w * (sd**2 + mu**2)) - mean**2
    np.testing.assert_allclose(mix.mean, [mean], rtol=1e-6)
    np.testing.assert_allclose(mix.variance, [var], rtol=1e-6)


@pytest.mark.parametrize("name", list(SDES))
def test_exact_score_is_gradient_of_marginal_log_density(name):
    sde = SDES[name]
    mix = _mix_2d()
    score_fn = ss.exact_score(mix, sde)
    ys = jnp.array([[0.1, 0.2], [-2.0, 1.5], [3.3, -2.2], [40.0, -30.0]])
    for t in (0.0, 1e-3, 0.2, 0.77, 1.0):
        logp = lambda y: mix.marginal(sde, t).log_prob(y)  # noqa: E731
        auto = jax.vmap(jax.grad(logp))(ys)
        ours = jax.vmap(score_fn, (None, 0))(t, ys)
        np.testing.assert_allclose(ours, auto, rtol=1e-5, atol=1e-5)


def test_exact_score_finite_differences():
    """Central differences of log p_t in float64 agree with the exact score."""
    with jax.enable_x64(True):
        mix = _mix_2d()
        sde = ss.VPSDE()
        score_fn = ss.exact_score(mix, sde)
        y, t, h = jnp.array([0.4, -0.3]), 0.3, 1e-5
        fd = [
            (score_fn.log_prob(t, y + h * e) - score_fn.log_prob(t, y - h * e))
            / (2 * h)
            for e in jnp.eye(2)
        ]
        np.testing.assert_allclose(score_fn(t, y), fd, rtol=1e-7)


def test_exact_score_is_stable_far_away_and_at_t0():
    mix = ss.datasets.get("mixture-1d")
    for sde in SDES.values():
        score_fn = ss.exact_score(mix, sde)
        # far from every mode the widest-tail component dominates: (m mu - y) / var
        y = jnp.array([1e4])
        s = score_fn(0.5, y)
        m, st = sde.marginal(0.5)
        var_k = (m * jnp.array([1.0, 0.5, 2.0])) ** 2 + st**2
        expected = jnp.max((m * jnp.array([-5.0, 0.0, 6.0]) - y[0]) / var_k)
        assert bool(jnp.isfinite(s).all())
        np.testing.assert_allclose(s[0], expected, rtol=1e-5)
        # at t = 0 the score is the data's own score
        np.testing.assert_allclose(
            score_fn(0.0, jnp.array([0.3])), mix.score(jnp.array([0.3])), rtol=1e-5
        )


@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "ddpm", "ncsn"])
def test_marginal_mixture_matches_simulated_kernel(name):
    """Data pushed through the exact kernel has the marginal mixture's moments."""
    sde = SDES[name]
    mix = _mix_2d()
    t = 0.4
    y0 = mix.sample(jax.random.key(3), 200_000)
    m, s = sde.marginal(t)
    yt = m * y0 + s * jax.random.normal(jax.random.key(4), y0.shape)
    pt = mix.marginal(sde, t)
    se = jnp.sqrt(pt.variance / y0.shape[0])
    np.testing.assert_allclose(jnp.mean(yt, 0), pt.mean, atol=5 * float(jnp.max(se)))
    np.testing.assert_allclose(
        jnp.var(yt, 0), pt.variance, rtol=5 * math.sqrt(2 / y0.shape[0]) * 3
    )
    # and its log-density is the convolution's: a single component is N(m mu, m^2 s^2 + std^2)
    one = ss.datasets.GaussianMixture([1.0], [[1.0, -1.0]], [[0.5, 2.0]])
    p1 = one.marginal(sde, t)
    np.testing.assert_allclose(p1.means[0], m * jnp.array([1.0, -1.0]), rtol=1e-6)
    np.testing.assert_allclose(
        p1.stds[0] ** 2, m**2 * jnp.array([0.25, 4.0]) + s**2, rtol=1e-5
    )


def test_sampling_reproduces_weights():
    mix = ss.datasets.get("nine-gaussians")
    n = 90_000
    ys, ks = mix.sample_with_labels(jax.random.key(0), n)
    counts = np.bincount(np.asarray(ks), minlength=9) / n
    w = np.arange(1, 10) / 45
    se = np.sqrt(w * (1 - w) / n)
    assert np.all(np.abs(counts - w) < 5 * se)
    np.testing.assert_allclose(ss.metrics.mode_weights(mix, ys), w, atol=5 * se.max())
    # within-component spread is std 0.25
    for k in (0, 4, 8):
        np.testing.assert_allclose(
            np.std(np.asarray(ys)[np.asarray(ks) == k], 0), 0.25, rtol=0.05
        )


def test_named_mixtures_have_contract_parameters():
    m1 = ss.datasets.get("mixture-1d")
    np.testing.assert_allclose(m1.weights, [0.3, 0.1, 0.6], rtol=1e-6)
    np.testing.assert_allclose(m1.means[:, 0], [-5, 0, 6])
    np.testing.assert_allclose(m1.stds[:, 0], [1, 0.5, 2])
    assert m1.shape == (1,)
    m9 = ss.datasets.get("nine-gaussians")
    assert m9.shape == (2,)
    expected_means = [[x, y] for x in (-2, 0, 2) for y in (-2, 0, 2)]
    np.testing.assert_allclose(m9.means, expected_means)
    np.testing.assert_allclose(m9.stds, 0.25)
    np.testing.assert_allclose(m9.weights, np.arange(1, 10) / 45, rtol=1e-6)


@pytest.mark.parametrize(
    "args, match",
    [
        (([0.5, 0.5], [0.0, 1.0], [1.0, 1.0]), "means\\[:, None\\]"),
        (([0.5, 0.5], [[0.0], [1.0], [2.0]], [1.0, 1.0]), "means"),
        (([0.5, 0.5], [[0.0], [1.0]], [1.0, 1.0, 1.0]), "stds"),
        (([0.5, -0.5], [[0.0], [1.0]], [1.0, 1.0]), "weights"),
        (([0.5, 0.5], [[0.0], [1.0]], [1.0, 0.0]), "stds"),
        (([0.5, 0.5], [[0.0], [np.nan]], [1.0, 1.0]), "means"),
        (([], [], []), "weights"),
    ],
)
def test_bad_mixture_raises(args, match):
    with pytest.raises(ValueError, match=match):
        ss.datasets.GaussianMixture(*args)


def test_exact_score_type_errors():
    with pytest.raises(TypeError, match="mixture"):
        ss.exact_score(ss.datasets.get("two-moons"), ss.VPSDE())
    with pytest.raises(TypeError, match="sde"):
        ss.exact_score(ss.datasets.get("mixture-1d"), "vp")


def test_weights_are_normalised():
    mix = ss.datasets.GaussianMixture([1.0, 3.0], [[0.0], [1.0]], [1.0, 1.0])
    np.testing.assert_allclose(mix.weights, [0.25, 0.75])
