"""Denoising score matching: exact minimum, perturbations, weightings, gradients,
parameterisations."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import scoresde as ss

from .helpers import all_sdes


MIX = ss.datasets.get("mixture-1d")
W, MU, SD = np.array([0.3, 0.1, 0.6]), np.array([-5.0, 0.0, 6.0]), np.array([1, 0.5, 2])
T_EPS = 1e-3


# --- independent closed forms (NumPy, float64) ---------------------------------
def vp_kernel(t, bmin=0.1, bmax=20.0):
    b = bmin * t + 0.5 * (bmax - bmin) * t**2
    return math.exp(-b / 2), math.sqrt(1 - math.exp(-b)), bmin + t * (bmax - bmin)


def ve_kernel(t, smin=0.01, smax=50.0):
    sig2 = smin**2 * (smax / smin) ** (2 * t)
    return 1.0, math.sqrt(sig2 - smin**2), sig2 * 2 * math.log(smax / smin)


def expected_sq_score(m, s):
    """E_{p_t} |d/dy log p_t(y)|^2 for the 1-D mixture, by quadrature in y."""
    var = m**2 * SD**2 + s**2
    half = 10 * math.sqrt(var.max()) + m * 6
    y = np.linspace(-half, half, 40001)[:, None]
    comp = W * np.exp(-0.5 * (y - m * MU) ** 2 / var) / np.sqrt(2 * np.pi * var)
    p = comp.sum(1)
    score = (comp * (m * MU - y) / var).sum(1) / np.maximum(p, 1e-300)
    return np.trapezoid(p * score**2, y[:, 0])


def minimum(kernel, lam, t_eps=T_EPS):
    """min over s_theta of E_{t~U} lam(t) E|s_theta - grad log p(y_t|y_0)|^2."""

    def integrand(t):
        m, s, g2 = kernel(t)
        return lam(m, s, g2) * (1 / s**2 - expected_sq_score(m, s))

    value, _ = integrate.quad(integrand, t_eps, 1.0, limit=200, epsrel=1e-6)
    return value / (1.0 - t_eps)


LAMBDAS = {
    "score": lambda m, s, g2: s**2,
    "likelihood": lambda m, s, g2: g2,
    "v": lambda m, s, g2: s**2 * ((s / m) ** 2 + 1.0),
}


def mc_loss(score_fn, sde, weighting, reps=16, n=16384, **kwargs):
    """Mean and standard error of `reps` independent evaluations of the loss."""
    y0 = MIX.sample(jax.random.key(123), reps * n).reshape(reps, n, 1)
    loss = jax.jit(
        jax.vmap(lambda k, y: ss.dsm_loss(score_fn, sde, k, y, weighting, **kwargs))
    )
    values = np.asarray(loss(jax.random.split(jax.random.key(7), reps), y0), np.float64)
    return values.mean(), values.std(ddof=1) / math.sqrt(reps)


@pytest.mark.parametrize(
    "sde_name,kernel,weighting",
    [
        ("vp", vp_kernel, "score"),
        ("vp", vp_kernel, "likelihood"),
        ("vp", vp_kernel, "v"),
        ("ve", ve_kernel, "score"),
        ("ve", ve_kernel, "likelihood"),
    ],
)
def test_exact_score_reaches_the_irreducible_minimum(sde_name, kernel, weighting):
    sde = {"vp": ss.VPSDE(), "ve": ss.VESDE()}[sde_name]
    exact = ss.exact_score(MIX, sde)
    mean, se = mc_loss(exact, sde, weighting, t_eps=T_EPS)
    expected = minimum(kernel, LAMBDAS[weighting])
    assert abs(mean - expected) < 4 * se + 2e-3 * abs(expected), (mean, se, expected)


def test_ddpm_minimum_on_the_grid():
    """DDPM: t uniform on the grid i/N; the minimum is an exact average over i."""
    sde = ss.DDPM.linear(num_steps=20, beta_start=1e-3, beta_end=0.3)
    abar = np.cumprod(1 - np.linspace(1e-3, 0.3, 20))
    expected = np.mean(
        [1 - (1 - a) * expected_sq_score(math.sqrt(a), math.sqrt(1 - a)) for a in abar]
    )
    mean, se = mc_loss(ss.exact_score(MIX, sde), sde, "eps")
    assert abs(mean - expected) < 4 * se + 2e-3 * expected, (mean, se, expected)


@pytest.mark.parametrize("weighting", ["score", "likelihood"])
def test_any_perturbation_raises_the_loss(weighting):
    sde = ss.VPSDE()
    exact = ss.exact_score(MIX, sde)
    key = jax.random.key(3)
    y0 = MIX.sample(jax.random.key(4), 100_000)

    def loss(delta, shape):
        def perturbed(t, y):
            _, s = sde.marginal(t)
            return exact(t, y) + delta * shape(y) / s

        return float(ss.dsm_loss(perturbed, sde, key, y0, weighting, t_eps=T_EPS))

    base = loss(0.0, jnp.ones_like)
    for delta in (0.1, -0.1):
        for shape in (jnp.ones_like, jnp.tanh, lambda y: jnp.sin(y)):
            assert loss(delta, shape) > base


def test_grid_times_and_ddpm_loss_reproduced_exactly():
    sde = ss.DDPM.linear(num_steps=10, beta_start=1e-2, beta_end=0.2)
    t, w = ss.ScoreWeighting().sample_times(sde, jax.random.key(0), 1000, 1e-5)
    idx = np.asarray(t) * 10
    assert np.allclose(idx, np.round(idx), atol=1e-5) and set(np.round(idx)) == set(
        range(1, 11)
    )
    assert np.all(np.asarray(w) == 1.0)
    # Ho et al.'s loss, written out: |eps - eps_hat(sqrt(abar) y0 + sqrt(1-abar) eps)|^2.
    net = ss.nets.MLP((2,), width=16, depth=1, key=jax.random.key(1))
    model = ss.ScoreModel(net, sde, parameterization="eps")
    y0 = jax.random.normal(jax.random.key(2), (64, 2))
    key = jax.random.key(5)
    i = jax.random.randint(jax.random.key(6), (64,), 1, 11)
    abar = jnp.cumprod(1 - jnp.linspace(1e-2, 0.2, 10))[i - 1]
    eps = jax.random.normal(jax.random.split(key)[1], y0.shape)
    y_t = jnp.sqrt(abar)[:, None] * y0 + jnp.sqrt(1 - abar)[:, None] * eps
    c_in, c_noise = jax.vmap(model.preconditioning)(i / 10)
    eps_hat = jax.vmap(net)(c_noise, c_in[:, None] * y_t)
    expected = jnp.mean(jnp.sum((eps - eps_hat) ** 2, axis=1))
    got = ss.dsm_loss(model, sde, key, y0, "eps", times=i / 10)
    assert np.allclose(got, expected, rtol=1e-4)


@pytest.mark.parametrize(
    "time_sampling", [ss.StratifiedTimes(), ss.AntitheticTimes()], ids=repr
)
def test_variance_reduced_time_sampling_is_unbiased(time_sampling):
    sde = ss.VPSDE()
    exact = ss.exact_score(MIX, sde)
    iid, se_iid = mc_loss(exact, sde, "score", reps=8, n=8192, t_eps=T_EPS)
    other, se = mc_loss(
        exact, sde, "score", reps=8, n=8192, t_eps=T_EPS, time_sampling=time_sampling
    )
    assert abs(iid - other) < 4 * math.hypot(se_iid, se) + 1e-3


def test_weighting_objects_and_functions_match_names():
    sde = ss.VPSDE()
    exact = ss.exact_score(MIX, sde)
    y0 = MIX.sample(jax.random.key(0), 128)
    key = jax.random.key(1)
    by_name = ss.dsm_loss(exact, sde, key, y0, "score")
    by_object = ss.dsm_loss(exact, sde, key, y0, ss.ScoreWeighting())
    by_function = ss.dsm_loss(
        exact, sde, key, y0, lambda sde, t: sde.marginal(t)[1] ** 2
    )
    assert by_name == by_object and np.allclose(by_name, by_function)
    with pytest.raises(ValueError, match="weighting"):
        ss.dsm_loss(exact, sde, key, y0, "nope")
    with pytest.raises(ValueError, match="t_eps"):
        ss.dsm_loss(exact, sde, key, y0, t_eps=0.0)
    with pytest.raises(TypeError, match="time_sampling"):
        ss.dsm_loss(exact, sde, key, y0, time_sampling="stratified")
    with pytest.raises(ValueError, match="labels"):
        ss.dsm_loss(exact, sde, key, y0, labels=jnp.zeros(3, jnp.int32))


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve", "cosine", "ddpm", "ncsn"])
def test_gradients_finite_near_t_eps(sde_name):
    sde = all_sdes()[sde_name]
    net = ss.nets.MLP((2,), width=16, depth=1, key=jax.random.key(0))
    y0 = jax.random.normal(jax.random.key(1), (8, 2))
    times = jnp.array([1e-5] * 4 + [1.0] * 4)
    # x0 is the most singular near t = 0 (score = (m x0 - y) / s^2).
    for parameterization in ("eps", "v", "x0") if sde_name == "vp" else ("x0",):
        model = ss.ScoreModel(net, sde, parameterization=parameterization)
        loss, grads = eqx.filter_value_and_grad(
            lambda m: ss.dsm_loss(m, sde, jax.random.key(2), y0, times=times)
        )(model)
        leaves = jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_inexact_array))
        assert np.isfinite(loss)
        assert all(np.all(np.isfinite(g)) for g in leaves)
