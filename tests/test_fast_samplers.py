"""Few-step samplers (DDIM, DPM-Solver++, EDM's Heun) and the time grids, against
exact answers: the mixture oracle's mode weights, the closed-form probability-flow
map of Gaussian data, exact score-evaluation counts."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss
from scoresde._sample import draw_samples
from scoresde._samplers.time_grid import log_snr

from .helpers import all_sdes


MIX1D = ss.datasets.get("mixture-1d")
VP = ss.VPSDE()
GAUSS = ss.datasets.GaussianMixture([1.0], [[2.0]], [0.5])


def _sample(sampler, sde=VP, mix=MIX1D, n=2000, key=0, **kwargs):
    return ss.sample(
        jax.random.key(key),
        sde,
        ss.exact_score(mix, sde),
        num_samples=n,
        shape=mix.shape,
        sampler=sampler,
        **kwargs,
    )


# --- time grids ------------------------------------------------------------------


@pytest.mark.parametrize("sde_name", list(all_sdes()))
def test_time_grids(sde_name):
    sde = all_sdes()[sde_name]
    t_end = 1e-3
    lam = jax.vmap(lambda t: log_snr(sde, t))
    for grid in (ss.UniformTime(), ss.LogSNRTime(), ss.RhoTime(7.0), ss.RhoTime(1.0)):
        ts = np.asarray(grid(sde, t_end, 12))
        assert ts.shape == (13,)
        assert ts[0] == sde.T and ts[-1] == np.float32(t_end)
        assert np.all(np.diff(ts) < 0), (grid, ts)
    # Each grid is equally spaced in its own variable.
    ts = ss.LogSNRTime()(sde, t_end, 12)
    np.testing.assert_allclose(np.diff(lam(ts)), np.diff(lam(ts)).mean(), rtol=2e-3)
    ts = ss.RhoTime(7.0)(sde, t_end, 12)
    root = np.exp(-np.asarray(lam(ts), np.float64) / 7.0)
    np.testing.assert_allclose(np.diff(root), np.diff(root).mean(), rtol=2e-3)
    ts = ss.UniformTime()(sde, t_end, 12)
    np.testing.assert_allclose(np.diff(ts), -(1 - t_end) / 12, rtol=1e-5)


# --- exactness on Gaussian data -------------------------------------------------------


def _exact_pf_map(sde, z, t_to):
    """For Gaussian data N(mu, s^2), (y_t - alpha_t mu) / sd_t is constant along the
    probability-flow ODE: its exact solution map from T to `t_to`."""
    mu, s = 2.0, 0.5

    def stats(t):
        a, sig = sde.marginal(t)
        return a * mu, jnp.sqrt((a * s) ** 2 + sig**2)

    mean_a, sd_a = stats(sde.T)
    mean_b, sd_b = stats(t_to)
    return mean_b + sd_b * (z - mean_a) / sd_a


def _pf_error(sampler, sde=VP, t_eps=1e-3, denoised=False):
    """The largest error against the exact map (followed by the exact posterior
    mean E[y_0 | y_t_eps] with `denoised`)."""
    ys = _sample(sampler, sde, GAUSS, n=64, key=1, t_eps=t_eps)
    zs = jax.vmap(lambda k: sde.prior_sample(jax.random.split(k)[0], (1,)))(
        jax.random.split(jax.random.key(1), 64)
    )
    exact = _exact_pf_map(sde, zs, t_eps)
    if denoised:
        a, sig = sde.marginal(t_eps)
        gain = a * 0.5**2 / ((a * 0.5) ** 2 + sig**2)
        exact = 2.0 + gain * (exact - a * 2.0)
    return float(jnp.max(jnp.abs(ys - exact)))


def test_dpm_solver_order_of_accuracy():
    # On the log-SNR grid, doubling the steps divides the error by about 2^order
    # (2^2 for order 3 too: its last two steps are of lower order), and each
    # order is more accurate than the last. (Measured: ratios 1.96, 3.9, 4.7.)
    grid = ss.LogSNRTime()
    errs = {
        k: [_pf_error(ss.DPMSolver(n, order=k, grid=grid)) for n in (32, 64)]
        for k in (1, 2, 3)
    }
    assert errs[1][1] > errs[2][1] > errs[3][1], errs
    for k, floor in ((1, 1.7), (2, 3.0), (3, 3.0)):
        coarse, fine = errs[k]
        assert coarse / fine > floor, (k, errs)


def test_order_one_dpm_solver_is_ddim():
    for sde in (VP, ss.VESDE(0.01, 50.0)):
        a = _sample(ss.DPMSolver(10, order=1), sde, n=64)
        b = _sample(ss.DDIM(10), sde, n=64)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_edm_heun_without_churn_is_the_exact_map():
    # Heun is second order: doubling the levels divides the error by about 4
    # (measured 4.6), and the final Euler step to sigma = 0 is the denoiser (the
    # exact posterior mean): 32 levels land within 0.03 of the exact answer.
    coarse = _pf_error(ss.EDMHeun(16), denoised=True)
    fine = _pf_error(ss.EDMHeun(32), denoised=True)
    assert coarse / fine > 3.0, (coarse, fine)
    assert fine < 0.05, fine


# --- mode weights on every SDE -------------------------------------------------------

FAST = {
    "ddim": ss.DDIM(),
    "dpm-solver": ss.DPMSolver(20),
    "dpm-solver-3": ss.DPMSolver(10, order=3),
    "sde-dpm-solver": ss.DPMSolver(20, stochastic=True),
    "edm-heun": ss.EDMHeun(),
    "edm-churn": ss.EDMHeun(10, churn=5.0),
}


def _sdes_for_weights():
    # The NCSN of the helpers stops at sigma_max = 10, not far enough above the
    # data's spread for its N(0, 10^2) prior to stand in for p_T (every sampler
    # then misses the weights by about 0.07): use a longer ladder.
    return dict(all_sdes(), ncsn=ss.NCSN.geometric(0.01, 100.0, 60))


@pytest.mark.parametrize("sde_name", list(all_sdes()))
@pytest.mark.parametrize("name", ["ddim", "dpm-solver", "edm-heun"])
def test_mode_weights_every_sde(name, sde_name):
    sde = _sdes_for_weights()[sde_name]
    ys = _sample(FAST[name], sde, n=4000, key=2)
    assert bool(jnp.all(jnp.isfinite(ys)))
    # Monte-Carlo std of a weight at 4000 samples: at most 0.008; the samplers'
    # own bias at these sizes is about 0.01 (measured on every SDE).
    err = ss.metrics.mode_weight_error(MIX1D, ys)
    assert err < 0.04, err


@pytest.mark.parametrize("name", ["dpm-solver-3", "sde-dpm-solver", "edm-churn"])
def test_mode_weights_variants(name):
    ys = _sample(FAST[name], n=4000, key=3)
    assert ss.metrics.mode_weight_error(MIX1D, ys) < 0.04


# --- NFE, keys, chunks, labels ------------------------------------------------------


@pytest.mark.parametrize(
    "sampler",
    [ss.DDIM(5, eta=0.5), ss.DPMSolver(5, stochastic=True), ss.EDMHeun(5, churn=2.0)],
    ids=lambda s: type(s).__name__,
)
def test_same_key_same_samples_any_chunking(sampler):
    a = _sample(sampler, n=50, key=5)
    b = _sample(sampler, n=50, key=5)
    c = _sample(sampler, n=50, key=5, chunk_size=16)
    assert bool(jnp.all(a == b))
    assert bool(jnp.all(a == c))
    assert not bool(jnp.allclose(a, _sample(sampler, n=50, key=6)))


def test_labels_reach_the_score_function():
    # Two labels, two well-separated Gaussians: each sample follows its label,
    # whatever the chunking (the last chunk is padded).
    means = (-3.0, 3.0)
    scores = [
        ss.exact_score(ss.datasets.GaussianMixture([1.0], [[m]], [0.1]), VP)
        for m in means
    ]

    def score_fn(t, y, label):
        return jnp.where(label == 0, scores[0](t, y), scores[1](t, y))

    labels = jnp.array([0, 1, 1, 0, 1])
    for sampler in (ss.DPMSolver(10), ss.ProbabilityFlowODE()):
        out = draw_samples(
            jax.random.key(7),
            VP,
            score_fn,
            sampler,
            num_samples=5,
            shape=(1,),
            t_eps=1e-3,
            chunk_size=2,
            save_ts=None,
            progress=False,
            labels=labels,
        )
        np.testing.assert_allclose(
            out.sample[:, 0], np.asarray(means)[labels], atol=0.5
        )


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ss.DPMSolver(order=0), "order"),
        (lambda: ss.DPMSolver(order=4), "order"),
        (lambda: ss.DPMSolver(order=3, stochastic=True), "order"),
        (lambda: ss.DPMSolver(num_steps=0), "num_steps"),
        (lambda: ss.DDIM(num_steps=0), "num_steps"),
        (lambda: ss.DDIM(eta=-0.1), "eta"),
        (lambda: ss.EDMHeun(num_steps=0), "num_steps"),
        (lambda: ss.EDMHeun(num_steps=1), "num_steps"),
        (lambda: ss.EDMHeun(rho=0.0), "rho"),
        (lambda: ss.EDMHeun(churn=-1.0), "churn"),
        (lambda: ss.EDMHeun(s_tmin=2.0, s_tmax=1.0), "s_tmin"),
        (lambda: ss.EDMHeun(s_noise=0.0), "s_noise"),
        (lambda: ss.RhoTime(rho=-1.0), "rho"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_grid_must_be_an_object():
    with pytest.raises(TypeError, match="grid"):
        ss.DPMSolver(grid="logsnr")
    with pytest.raises(TypeError, match="grid"):
        ss.ReverseSDE(grid="uniform")


# --- host work per call --------------------------------------------------------------


_TRACES = []


class _Linear(eqx.Module):
    """`(t, y) -> -w @ y`, recording in `_TRACES` each time it is traced."""

    w: jax.Array

    def __call__(self, t, y):
        _TRACES.append(y.shape)
        return -self.w @ y


def test_score_is_checked_once_per_structure():
    # The boundary check of `sample` traces the score function once per structure
    # (and `jit` once per configuration): a second call, even with a new object of
    # the same structure, traces nothing.
    kwargs = dict(num_samples=4, shape=(1,), sampler=ss.DDIM(3))
    _TRACES.clear()
    ss.sample(jax.random.key(0), VP, _Linear(jnp.eye(1)), **kwargs)
    assert _TRACES
    _TRACES.clear()
    ss.sample(jax.random.key(1), VP, _Linear(2.0 * jnp.eye(1)), **kwargs)
    assert _TRACES == []
    # A score function of another structure is checked again, and refused.
    with pytest.raises(ValueError, match="shape"):
        ss.sample(jax.random.key(2), VP, _Linear(jnp.ones((2, 1))), **kwargs)
