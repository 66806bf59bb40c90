"""Samplers against exact answers: the Gaussian-mixture oracle's exact score, its
exact mode weights, and the closed-form probability-flow map of Gaussian data."""

import re

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import scoresde as ss


MIX1D = ss.datasets.get("mixture-1d")
VP = ss.VPSDE()
N = 20_000


def _w1_and_baseline(mixture, ys, key):
    k1, k2 = jax.random.split(key)
    truth = np.asarray(mixture.sample(k1, ys.shape[0]))[:, 0]
    other = np.asarray(mixture.sample(k2, ys.shape[0]))[:, 0]
    w1 = scipy.stats.wasserstein_distance(np.asarray(ys)[:, 0], truth)
    return w1, scipy.stats.wasserstein_distance(other, truth)


def _check_mixture1d(ys):
    assert ys.shape == (N, 1)
    assert bool(jnp.all(jnp.isfinite(ys)))
    weights = np.asarray(ss.metrics.mode_weights(MIX1D, ys))
    np.testing.assert_allclose(weights, [0.3, 0.1, 0.6], atol=0.015)
    w1, baseline = _w1_and_baseline(MIX1D, ys, jax.random.key(123))
    # Close to the data-vs-data baseline (about 0.05 at this size).
    assert w1 < 3 * baseline + 0.02, (w1, baseline)


# --- quality on mixture-1d (fast cases) ------------------------------------------


def test_probability_flow_ode_mixture1d():
    ys = ss.sample(
        jax.random.key(0), VP, ss.exact_score(MIX1D, VP), num_samples=N, shape=(1,)
    )
    _check_mixture1d(ys)


def test_reverse_sde_shark_mixture1d():
    sampler = ss.ReverseSDE(diffrax.ShARK(), num_steps=100)
    ys = ss.sample(
        jax.random.key(1),
        VP,
        ss.exact_score(MIX1D, VP),
        num_samples=N,
        shape=(1,),
        sampler=sampler,
    )
    _check_mixture1d(ys)


# --- backwards-in-time solves against the exact answer ----------------------------

GAUSS = ss.datasets.GaussianMixture([1.0], [[2.0]], [0.5])


def _exact_pf_map(sde, z, t_from, t_to):
    """For Gaussian data N(mu, sigma^2), (y_t - m_t mu) / sd_t is constant along
    the probability-flow ODE: its exact solution map."""
    mu, sigma = 2.0, 0.5

    def stats(t):
        m, s = sde.marginal(t)
        return m * mu, jnp.sqrt((m * sigma) ** 2 + s**2)

    mean_a, sd_a = stats(t_from)
    mean_b, sd_b = stats(t_to)
    return mean_b + sd_b * (z - mean_a) / sd_a


@pytest.mark.parametrize("sde", [VP, ss.VESDE(0.01, 10.0)], ids=["vp", "ve"])
def test_ode_decode_is_exact_and_encode_inverts_it(sde, getkey):
    score_fn = ss.exact_score(GAUSS, sde)
    zs = sde.prior_sample(getkey(), (64, 1))
    ys = ss.ProbabilityFlowODE().decode(sde, score_fn, zs, t_eps=1e-3)
    np.testing.assert_allclose(ys, _exact_pf_map(sde, zs, 1.0, 1e-3), atol=2e-4)
    # Round trip to 1e-4 needs tighter tolerances than the sampling defaults.
    sampler = ss.ProbabilityFlowODE(diffrax.Dopri8(), rtol=1e-6, atol=1e-6)
    back = sampler.decode(sde, score_fn, sampler.encode(sde, score_fn, ys))
    np.testing.assert_allclose(back, ys, atol=1e-4)


def test_shared_steps_bound_every_samples_error():
    # Shared steps accept a step only when every sample meets the tolerance, so
    # no sample is worse off than when solved on its own; per-sample error
    # estimates in 1-D can vanish by chance and let a sample take a long step.
    score_fn = ss.exact_score(MIX1D, VP)
    zs = VP.prior_sample(jax.random.key(20), (2000, 1))
    ref = ss.ProbabilityFlowODE(diffrax.Dopri8(), rtol=1e-8, atol=1e-8).decode(
        VP, score_fn, zs
    )
    err = {}
    for shared in (True, False):
        ys = ss.ProbabilityFlowODE(shared_steps=shared).decode(VP, score_fn, zs)
        err[shared] = np.abs(np.asarray(ys - ref))
    assert np.median(err[True]) < 1e-5
    assert err[True].max() < 0.5 * err[False].max(), (err[True].max(), err[False].max())


def test_encode_then_decode_mixture():
    score_fn = ss.exact_score(MIX1D, VP)
    sampler = ss.ProbabilityFlowODE(diffrax.Dopri8(), rtol=1e-6, atol=1e-6)
    ys = MIX1D.sample(jax.random.key(2), 256)
    zs = sampler.encode(VP, score_fn, ys)
    back = sampler.decode(VP, score_fn, zs)
    np.testing.assert_allclose(back, ys, atol=1e-4)


@pytest.mark.parametrize(
    "solver",
    [diffrax.Euler(), diffrax.Heun(), diffrax.SEA(), diffrax.ShARK()],
    ids=["euler", "heun", "sea", "shark"],
)
def test_reverse_sde_matches_exact_marginal(solver):
    # Gaussian data: p_{t_eps} is N(m mu, m^2 sigma^2 + s^2) exactly.
    t_eps = 1e-2
    sampler = ss.ReverseSDE(solver, num_steps=200, denoise=False)
    ys = ss.sample(
        jax.random.key(3),
        VP,
        ss.exact_score(GAUSS, VP),
        num_samples=8000,
        shape=(1,),
        sampler=sampler,
        t_eps=t_eps,
    )
    m, s = VP.marginal(t_eps)
    mean, sd = 2.0 * m, jnp.sqrt((0.5 * m) ** 2 + s**2)
    # Tolerances are 4 standard errors of the mean / std at 8000 samples.
    assert abs(float(jnp.mean(ys)) - float(mean)) < 4 * float(sd) / np.sqrt(8000)
    assert abs(float(jnp.std(ys)) / float(sd) - 1) < 4 / np.sqrt(2 * 8000) + 0.01


# --- determinism, chunking, trajectories ----------------------------------------


@pytest.mark.parametrize(
    "sampler, exact",
    [
        (ss.ReverseSDE(num_steps=20), True),
        (ss.ProbabilityFlowODE(), False),
        (ss.ProbabilityFlowODE(shared_steps=False), True),
        (ss.Ancestral(num_steps=20), True),
        (ss.PredictorCorrector(num_steps=20, corrector_steps=0), True),
    ],
    ids=["reverse-sde", "pf-ode", "pf-ode-per-sample", "ancestral", "predictor"],
)
def test_fixed_key_and_chunking(sampler, exact):
    score_fn = ss.exact_score(MIX1D, VP)
    kwargs = dict(num_samples=50, shape=(1,), sampler=sampler)
    a = ss.sample(jax.random.key(4), VP, score_fn, **kwargs)
    b = ss.sample(jax.random.key(4), VP, score_fn, **kwargs)
    c = ss.sample(jax.random.key(4), VP, score_fn, chunk_size=16, **kwargs)
    assert bool(jnp.all(a == b))
    if exact:
        # A sample depends on its key alone: bit for bit the same in any chunk.
        assert bool(jnp.all(c == a))
    else:
        # Shared adaptive steps depend on the chunk, within the solver's global
        # error: both agree with a much tighter solve (measured: 2.6e-4 at most;
        # the two differ by up to 1.3e-4).
        tight = ss.ProbabilityFlowODE(rtol=1e-9, atol=1e-9, shared_steps=False)
        ref = ss.sample(jax.random.key(4), VP, score_fn, **{**kwargs, "sampler": tight})
        np.testing.assert_allclose(a, ref, rtol=0, atol=1e-3)
        np.testing.assert_allclose(c, ref, rtol=0, atol=1e-3)
    d = ss.sample(jax.random.key(5), VP, score_fn, **kwargs)
    assert not bool(jnp.allclose(a, d))


def test_trajectory_ends_at_sample_and_keeps_order():
    score_fn = ss.exact_score(MIX1D, VP)
    sampler = ss.ProbabilityFlowODE()
    kwargs = dict(num_samples=8, shape=(1,), sampler=sampler)
    ys = ss.sample(jax.random.key(6), VP, score_fn, **kwargs)
    save_ts = [1e-3, 1.0, 0.5]
    traj = ss.sample(jax.random.key(6), VP, score_fn, save_ts=save_ts, **kwargs)
    assert traj.shape == (8, 3, 1)
    np.testing.assert_allclose(traj[:, 0], ys, atol=1e-5)
    # At t = T the path is the prior draw; decoding it gives the sample back.
    np.testing.assert_allclose(sampler.decode(VP, score_fn, traj[:, 1]), ys, atol=1e-4)


@pytest.mark.parametrize(
    "sampler",
    [
        ss.ReverseSDE(num_steps=40, denoise=False),
        ss.PredictorCorrector(num_steps=40, denoise=False),
        ss.DPMSolver(40, stochastic=True),
    ],
    ids=["reverse-sde", "pc", "sde-dpm-solver"],
)
def test_stochastic_trajectory(sampler):
    # Save at grid points (no interpolation): at T the path is the prior draw,
    # halfway its law is the exact marginal p_t, and at t_eps it is the sample.
    n = 4000
    score_fn = ss.exact_score(MIX1D, VP)
    grid = np.asarray(sampler.grid(VP, 1e-3, 40))
    save_ts = grid[[0, 20, 40]]
    kwargs = dict(num_samples=n, shape=(1,), sampler=sampler)
    traj = ss.sample(jax.random.key(7), VP, score_fn, save_ts=save_ts, **kwargs)
    ys = ss.sample(jax.random.key(7), VP, score_fn, **kwargs)
    assert traj.shape == (n, 3, 1)
    np.testing.assert_allclose(traj[:, 2], ys, rtol=1e-5, atol=1e-5)
    prior = np.asarray(traj[:, 0, 0])
    assert abs(prior.mean()) < 4 / np.sqrt(n) and abs(prior.std() - 1) < 0.04
    exact = np.asarray(
        MIX1D.marginal(VP, float(save_ts[1])).sample(jax.random.key(8), n)
    )
    mid = np.asarray(traj[:, 1])
    assert abs(mid.mean() - exact.mean()) < 5 * exact.std() / np.sqrt(n)
    assert abs(mid.std() / exact.std() - 1) < 0.06


def test_progress_bar_prints_progress(capfd):
    score_fn = ss.exact_score(MIX1D, VP)
    ys = ss.sample(
        jax.random.key(8),
        VP,
        score_fn,
        num_samples=4,
        shape=(1,),
        sampler=ss.ReverseSDE(num_steps=40),
        progress=True,
    )
    jax.effects_barrier()
    assert ys.shape == (4, 1)
    err = capfd.readouterr().err
    # tqdm's bar, refreshed every 20 steps: an intermediate value, then 100%.
    assert re.search(r"\b[1-9]\d\.\d\d%\|", err), err
    assert "100.00%|" in err, err


# --- NFE and statistics, against a score function that counts its calls ----------


class _Counter:
    def __init__(self, score_fn):
        self.score_fn = score_fn
        self.calls = 0

    def _tick(self):
        self.calls += 1

    def __call__(self, t, y):
        jax.debug.callback(self._tick)
        return self.score_fn(t, y)


@pytest.mark.parametrize(
    "sampler, nfe",
    [
        (ss.ReverseSDE(diffrax.Euler(), num_steps=7), 8),
        (ss.ReverseSDE(diffrax.Heun(), num_steps=7, denoise=False), 14),
        (ss.ReverseSDE(diffrax.ShARK(), num_steps=7), None),
        (ss.ReverseSDE(diffrax.SEA(), num_steps=7), None),
        (ss.ReverseSDE(num_steps=7, grid=ss.RhoTime()), 8),
        (ss.ProbabilityFlowODE(rtol=1e-3, atol=1e-3), None),
        (ss.ProbabilityFlowODE(rtol=1e-3, atol=1e-3, shared_steps=False), None),
        (ss.ProbabilityFlowODE(diffrax.Dopri5(), rtol=1e-3, atol=1e-3), None),
        (ss.ProbabilityFlowODE(diffrax.Heun(), num_steps=7), 14),
        (ss.PredictorCorrector(num_steps=7, corrector_steps=2), 22),
        (ss.PredictorCorrector(num_steps=7, grid=ss.LogSNRTime()), 15),
        (ss.Ancestral(num_steps=7), 7),
        (ss.DDIM(7), 7),
        (ss.DDIM(7, eta=1.0), 7),
        (ss.DPMSolver(7, order=1), 7),
        (ss.DPMSolver(7, order=3), 7),
        (ss.DPMSolver(7, stochastic=True), 7),
        (ss.EDMHeun(7), 13),
        (ss.EDMHeun(7, churn=3.0), 13),
    ],
    ids=lambda x: (
        str(x)
        if isinstance(x, int) or x is None
        else type(x).__name__ + "-" + type(getattr(x, "solver", x)).__name__
    ),
)
def test_nfe_counts_score_evaluations(sampler, nfe):
    # Three samples: a batched score evaluation is one call, so the calls are the
    # batch's largest NFE (all equal, but for per-sample adaptive steps). Where
    # the count is known in advance (`nfe`), it must be that.
    counter = _Counter(ss.exact_score(MIX1D, VP))
    _, stats = ss.sample(
        jax.random.key(9),
        VP,
        counter,
        num_samples=3,
        shape=(1,),
        sampler=sampler,
        return_stats=True,
    )
    jax.effects_barrier()
    assert int(stats["nfe"].max()) == counter.calls
    if nfe is not None:
        assert stats["nfe"].tolist() == [nfe] * 3
    if not (isinstance(sampler, ss.ProbabilityFlowODE) and not sampler.shared_steps):
        assert len(set(stats["nfe"].tolist())) == 1
    assert set(stats) >= {"nfe", "num_steps", "num_accepted_steps"}


def test_annealed_langevin_nfe():
    ncsn = ss.NCSN.geometric(0.01, 10.0, 5)
    _, stats = ss.sample(
        jax.random.key(10),
        ncsn,
        ss.exact_score(MIX1D, ncsn),
        num_samples=3,
        shape=(1,),
        sampler=ss.AnnealedLangevin(steps_per_level=4),
        return_stats=True,
    )
    assert stats["nfe"].tolist() == [20, 20, 20]
    assert stats["num_steps"].tolist() == [5, 5, 5]


# --- plain Langevin -----------------------------------------------------------------


def test_langevin_reaches_gaussian():
    ys = ss.langevin(
        jax.random.key(11),
        GAUSS.score,
        jnp.zeros((8000, 1)),
        step_size=1e-3,
        num_steps=2000,
    )
    # Bias of the unadjusted chain is O(step_size); tolerance ~4 standard errors.
    assert abs(float(jnp.mean(ys)) - 2.0) < 0.03
    assert abs(float(jnp.std(ys)) - 0.5) < 0.02


# --- errors -------------------------------------------------------------------------


def test_errors():
    score_fn = ss.exact_score(MIX1D, VP)
    key = jax.random.key(0)
    ve = ss.VESDE()
    with pytest.raises(ValueError, match="variance-preserving"):
        ss.sample(
            key,
            ve,
            ss.exact_score(MIX1D, ve),
            num_samples=2,
            shape=(1,),
            sampler=ss.Ancestral(),
        )
    with pytest.raises(ValueError, match="NCSN"):
        ss.sample(
            key, VP, score_fn, num_samples=2, shape=(1,), sampler=ss.AnnealedLangevin()
        )
    for bad in (0, -3):
        with pytest.raises(ValueError, match="num_samples"):
            ss.sample(key, VP, score_fn, num_samples=bad, shape=(1,))
    with pytest.raises(ValueError, match="shape"):
        ss.sample(key, VP, score_fn, num_samples=2, shape=(2,))
    with pytest.raises(ValueError, match="score"):
        ss.sample(key, VP, lambda t, y: jnp.zeros(3), num_samples=2, shape=(1,))
    with pytest.raises(ValueError, match="score_fn"):
        ss.sample(key, VP, lambda t, y: y @ jnp.ones((5, 5)), num_samples=2, shape=(3,))
    with pytest.raises(ValueError, match="save_ts"):
        ss.sample(key, VP, score_fn, num_samples=2, shape=(1,), save_ts=[0.5, 1.5])
    with pytest.raises(ValueError, match="t_eps"):
        ss.sample(key, VP, score_fn, num_samples=2, shape=(1,), t_eps=0.0)
    with pytest.raises(TypeError, match="sampler"):
        ss.sample(key, VP, score_fn, num_samples=2, shape=(1,), sampler="pf-ode")
    with pytest.raises(ValueError, match="num_steps"):
        ss.ProbabilityFlowODE(diffrax.Euler())
    with pytest.raises(ValueError, match="predictor"):
        ss.PredictorCorrector(predictor="heun")
    with pytest.raises(ValueError, match="num_steps"):
        ss.ReverseSDE(num_steps=0)
    with pytest.raises(ValueError, match="n >= 1"):
        ss.ProbabilityFlowODE().decode(VP, score_fn, jnp.zeros((0, 1)))
    with pytest.raises(TypeError, match="shared_steps"):
        ss.ProbabilityFlowODE(shared_steps="yes")
    with pytest.raises(ValueError, match="chunk_size"):
        ss.sample(key, VP, score_fn, num_samples=2, shape=(1,), chunk_size=0)


# --- every sampler at full size (slow) ------------------------------------------


def _slow_cases():
    ddpm = ss.DDPM.linear(1000, 1e-4, 0.02)
    ncsn = ss.NCSN.geometric(0.01, 20.0, 30)
    # sigma_max well above the data's spread: the prior N(0, sigma_max^2) then
    # matches p_T (mean 2.1 here) closely enough for the deterministic ODE.
    ve = ss.VESDE(0.01, 100.0)
    return {
        "pf-ode-vp": (VP, ss.ProbabilityFlowODE()),
        "pf-ode-ve": (ve, ss.ProbabilityFlowODE()),
        "reverse-sde-euler": (VP, ss.ReverseSDE(num_steps=1000)),
        "reverse-sde-sea": (VP, ss.ReverseSDE(diffrax.SEA(), num_steps=200)),
        "pc-vp": (VP, ss.PredictorCorrector(num_steps=500)),
        "pc-ve": (ve, ss.PredictorCorrector(num_steps=500)),
        "pc-em-vp": (
            VP,
            ss.PredictorCorrector(num_steps=500, predictor="euler-maruyama"),
        ),
        "ancestral-ddpm": (ddpm, ss.Ancestral()),
        "ancestral-vp": (VP, ss.Ancestral(num_steps=1000)),
        "annealed-langevin": (ncsn, ss.AnnealedLangevin(100, 2e-5)),
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", list(_slow_cases()))
def test_every_sampler_mixture1d(case):
    sde, sampler = _slow_cases()[case]
    ys = ss.sample(
        jax.random.key(12),
        sde,
        ss.exact_score(MIX1D, sde),
        num_samples=N,
        shape=(1,),
        sampler=sampler,
    )
    _check_mixture1d(ys)


@pytest.mark.slow
@pytest.mark.parametrize(
    "sampler",
    [ss.ProbabilityFlowODE(), ss.ReverseSDE(diffrax.ShARK(), num_steps=200)],
    ids=["pf-ode", "reverse-sde"],
)
def test_nine_gaussians(sampler):
    mix = ss.datasets.get("nine-gaussians")
    ys = ss.sample(
        jax.random.key(13),
        VP,
        ss.exact_score(mix, VP),
        num_samples=N,
        shape=(2,),
        sampler=sampler,
    )
    weights = np.asarray(ss.metrics.mode_weights(mix, ys))
    np.testing.assert_allclose(weights, np.arange(1, 10) / 45, atol=0.015)


@pytest.mark.parametrize("num_steps", [500, 1000])
def test_discrete_chain_grid_has_exact_endpoints(num_steps):
    # The grid t_i = i/N must start exactly at T: XLA's N/N could come out as
    # 1 + 5e-8 for N = 500 and 1000, and Diffrax then refused the grid.
    ddpm = ss.DDPM.linear(num_steps, 1e-4, 0.02)
    ys, stats = ss.sample(
        jax.random.key(0),
        ddpm,
        ss.exact_score(MIX1D, ddpm),
        num_samples=8,
        shape=(1,),
        sampler=ss.Ancestral(),
        return_stats=True,
    )
    assert np.all(np.isfinite(np.asarray(ys)))
    assert np.all(np.asarray(stats["nfe"]) == num_steps)
