"""SDEs against exact answers: closed-form kernels, the moment ODEs, grid
exactness of DDPM / NCSN, and a forward Euler-Maruyama simulation."""

import math

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss

from .helpers import all_sdes


SDES = all_sdes()
TIMES = [0.0, 1e-4, 0.013, 0.25, 0.5, 0.731, 1.0]


# ---------------------------------------------------------------- closed forms
def _vp_closed_form(t, bmin, bmax):
    b = bmin * t + 0.5 * (bmax - bmin) * t**2
    return math.exp(-0.5 * b), math.sqrt(1 - math.exp(-b))


@pytest.mark.parametrize("t", TIMES)
def test_vp_closed_form(t):
    sde = ss.VPSDE(beta_min=0.1, beta_max=20.0)
    m, s = sde.marginal(t)
    m_ref, s_ref = _vp_closed_form(t, 0.1, 20.0)
    np.testing.assert_allclose([m, s], [m_ref, s_ref], rtol=2e-6, atol=1e-7)
    assert float(sde.diffusion(t)) == pytest.approx(math.sqrt(0.1 + t * 19.9), rel=1e-6)
    assert float(sde.drift_coefficient(t)) == pytest.approx(-0.5 * (0.1 + t * 19.9))


@pytest.mark.parametrize("t", TIMES)
def test_subvp_closed_form(t):
    sde = ss.SubVPSDE(beta_min=0.1, beta_max=20.0)
    b = 0.1 * t + 0.5 * 19.9 * t**2
    m, s = sde.marginal(t)
    np.testing.assert_allclose(
        [m, s], [math.exp(-0.5 * b), 1 - math.exp(-b)], rtol=2e-6, atol=1e-8
    )
    g_ref = math.sqrt((0.1 + 19.9 * t) * (1 - math.exp(-2 * b)))
    assert float(sde.diffusion(t)) == pytest.approx(g_ref, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("t", TIMES)
def test_ve_closed_form_has_sigma_min_correction(t):
    smin, smax = 0.01, 50.0
    sde = ss.VESDE(sigma_min=smin, sigma_max=smax)
    m, s = sde.marginal(t)
    sigma_t = smin * (smax / smin) ** t
    assert float(m) == 1.0
    assert float(s) == pytest.approx(
        math.sqrt(sigma_t**2 - smin**2), rel=2e-5, abs=1e-9
    )
    assert float(sde.sigma(t)) == pytest.approx(sigma_t, rel=2e-6)
    g_ref = sigma_t * math.sqrt(2 * math.log(smax / smin))
    assert float(sde.diffusion(t)) == pytest.approx(g_ref, rel=2e-6)


@pytest.mark.parametrize("t", TIMES)
def test_cosine_closed_form(t):
    s_, tmax = 0.008, 0.995
    sde = ss.CosineVPSDE(s=s_, t_max=tmax)

    def f(u):
        return math.cos(0.5 * math.pi * (u * tmax + s_) / (1 + s_)) ** 2

    abar = f(t) / f(0.0)
    m, s = sde.marginal(t)
    np.testing.assert_allclose(
        [m, s], [math.sqrt(abar), math.sqrt(1 - abar)], rtol=5e-6, atol=1e-6
    )
    # beta(t) is -d log abar / dt
    h = 1e-5
    tc = min(max(t, h), 1.0 - h)  # central differences inside [0, 1]
    beta_fd = -(math.log(f(tc + h)) - math.log(f(tc - h))) / (2 * h)
    assert float(sde.beta(tc)) == pytest.approx(beta_fd, rel=1e-4)


def test_prior():
    for sde, std in [
        (ss.VPSDE(), 1.0),
        (ss.SubVPSDE(), 1.0),
        (ss.VESDE(sigma_min=0.01, sigma_max=50.0), 50.0),
        (ss.NCSN.geometric(0.01, 3.0, 10), 3.0),
    ]:
        y = jnp.array([0.3, -1.2, 2.0])
        ref = np.sum(
            -0.5 * (np.asarray(y) / std) ** 2
            - math.log(std)
            - 0.5 * math.log(2 * math.pi)
        )
        assert float(sde.prior_log_prob(y)) == pytest.approx(ref, rel=1e-5)
        draws = sde.prior_sample(jax.random.key(0), (20_000, 2))
        assert draws.shape == (20_000, 2)
        assert float(jnp.std(draws)) == pytest.approx(std, rel=0.02)


# ------------------------------------------------------- grid exactness (DDPM)
def test_ddpm_exact_at_grid():
    betas = np.linspace(1e-4, 0.02, 1000)
    sde = ss.DDPM(betas)
    abar = np.cumprod(1.0 - betas)
    idx = np.array([1, 2, 10, 123, 500, 999, 1000])
    m, s = jax.vmap(sde.marginal)(jnp.asarray(idx / 1000.0, jnp.float32))
    np.testing.assert_allclose(m, np.sqrt(abar[idx - 1]), rtol=2e-6)
    np.testing.assert_allclose(s, np.sqrt(1 - abar[idx - 1]), rtol=2e-6)
    np.testing.assert_allclose(sde.alpha_bars, abar, rtol=2e-6)
    np.testing.assert_allclose(sde.betas, betas, rtol=1e-6)
    # DDPM.linear is Ho et al.'s schedule
    lin = ss.DDPM.linear(num_steps=1000, beta_start=1e-4, beta_end=0.02)
    np.testing.assert_allclose(lin.betas, betas, rtol=1e-6)
    # the grid and t = 0
    np.testing.assert_allclose(sde.ts, np.arange(1, 1001) / 1000, rtol=1e-6)
    assert sde.marginal(0.0) == (1.0, 0.0)


def test_ncsn_exact_at_grid():
    sigmas = np.geomspace(0.01, 1.0, 100)
    sde = ss.NCSN(sigmas)
    idx = np.array([1, 2, 37, 99, 100])
    m, s = jax.vmap(sde.marginal)(jnp.asarray(idx / 100.0, jnp.float32))
    np.testing.assert_allclose(m, 1.0)
    np.testing.assert_allclose(s, sigmas[idx - 1], rtol=2e-6)
    geo = ss.NCSN.geometric(sigma_min=0.01, sigma_max=1.0, num_steps=100)
    np.testing.assert_allclose(geo.sigmas, sigmas, rtol=1e-6)
    assert float(sde.marginal(0.0)[1]) == 0.0


def test_discrete_step_index():
    sde = ss.DDPM.linear(num_steps=10, beta_start=0.01, beta_end=0.2)
    # step i is (t_{i-1}, t_i]; a grid point belongs to the step that ends there
    ts = jnp.array([0.0, 0.05, 0.1, 0.1000001, 0.15, 0.3, 0.99, 1.0])
    np.testing.assert_array_equal(
        jax.vmap(sde.step_index)(ts), [0, 0, 0, 0, 1, 2, 9, 9]
    )
    for i in range(1, 11):
        assert int(sde.step_index(i / 10)) == i - 1
    rate = -10 * np.log1p(-np.asarray(sde.betas))
    np.testing.assert_allclose(
        jax.vmap(sde.beta)(jnp.arange(10) / 10 + 0.05), rate, rtol=1e-6
    )


def test_ddpm_tends_to_vp():
    """beta_i = beta(t_i)/N: as N grows the DDPM's kernel tends to the VP SDE's."""
    vp = ss.VPSDE(beta_min=0.1, beta_max=20.0)
    errs = []
    for n in (100, 1000):
        t_grid = np.arange(1, n + 1) / n
        ddpm = ss.DDPM((0.1 + 19.9 * t_grid) / n)
        errs.append(abs(float(ddpm.marginal(0.5)[0]) - float(vp.marginal(0.5)[0])))
    # first-order convergence (a right Riemann sum of beta): 10x more steps, 10x
    # smaller error
    assert 7 < errs[0] / errs[1] < 13


# ------------------------------------------------ moment-ODE consistency check
def _moments_by_ode(sde, t1, t0=0.0):
    """Integrate m' = a m, v' = 2 a v + g^2 from (m, v) = (1, 0) at t0 with Diffrax,
    using only sde.drift_coefficient and sde.diffusion."""
    if isinstance(sde, ss.AbstractDiscreteSDE):
        # Coefficients are constant on each step (t_{i-1}, t_i]; there the moment
        # ODEs integrate in closed form. Each step's coefficient is read at its
        # midpoint (grid points are ambiguous in floating point).
        n = sde.num_steps
        edges = [t0] + [i / n for i in range(1, n + 1) if t0 < i / n < t1] + [t1]
        m, v = 1.0, 0.0
        for lo, hi in zip(edges[:-1], edges[1:]):
            mid = 0.5 * (lo + hi)
            a, g2 = float(sde.drift_coefficient(mid)), float(sde.diffusion(mid)) ** 2
            dt = hi - lo
            growth = math.exp(2 * a * dt)
            m *= math.exp(a * dt)
            v = v * growth + (
                g2 * math.expm1(2 * a * dt) / (2 * a) if a != 0 else g2 * dt
            )
        return m, v

    def vf(t, y, args):
        a, g = sde.drift_coefficient(t), sde.diffusion(t)
        return (a * y[0], 2 * a * y[1] + g**2)

    return _solve(vf, (jnp.array(1.0), jnp.array(0.0)), t0, t1)


def _solve(vf, y0, t0, t1):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vf),
        diffrax.Tsit5(),
        t0,
        t1,
        dt0=(t1 - t0) / 20,
        y0=y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-7, atol=1e-9),
        max_steps=100_000,
    )
    return sol.ys[0][-1], sol.ys[1][-1]


@pytest.mark.parametrize("name", list(SDES))
def test_marginal_matches_moment_odes(name):
    sde = SDES[name]
    for t in (0.05, 0.37, 0.8, 1.0):
        m_ode, v_ode = _moments_by_ode(sde, t)
        m, s = sde.marginal(t)
        assert float(m) == pytest.approx(float(m_ode), rel=1e-4, abs=1e-6), (name, t)
        assert float(s) ** 2 == pytest.approx(float(v_ode), rel=1e-4, abs=1e-7), (
            name,
            t,
        )


def test_moment_check_catches_a_missing_sigma_min():
    """The consistency check above is sharp enough to catch VE's classic bug."""
    sde = ss.VESDE(sigma_min=0.5, sigma_max=5.0)
    _, v_ode = _moments_by_ode(sde, 0.3)
    wrong = float(sde.sigma(0.3)) ** 2  # std^2 = sigma(t)^2, forgetting sigma_min
    assert abs(wrong - float(v_ode)) > 100 * 1e-4 * float(v_ode)


# ------------------------------------------- forward Euler-Maruyama simulation
@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "ddpm", "ncsn"])
def test_forward_simulation_matches_marginal(name):
    sde = SDES[name]
    n_paths, num_steps, t1 = 20_000, 400, 0.6
    y0 = jnp.array([1.5, -0.5])

    def simulate(key):
        bm = diffrax.UnsafeBrownianPath(shape=(2,), key=key)
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda t, y, args: sde.drift(t, y)),
            diffrax.ControlTerm(
                lambda t, y, args: sde.diffusion(t, y) * jnp.eye(2), bm
            ),
        )
        sol = diffrax.diffeqsolve(
            terms,
            diffrax.Euler(),
            0.0,
            t1,
            dt0=t1 / num_steps,
            y0=y0,
            max_steps=num_steps + 1,
            adjoint=diffrax.ForwardMode(),  # UnsafeBrownianPath: no backprop needed
        )
        return sol.ys[-1]

    ys = jax.jit(jax.vmap(simulate))(jax.random.split(jax.random.key(1), n_paths))
    m, s = sde.marginal(t1)
    # Monte-Carlo standard errors of the sample mean and variance
    se_mean = float(s) / math.sqrt(n_paths)
    se_var = float(s) ** 2 * math.sqrt(2.0 / n_paths)
    # Euler's O(dt) bias is ~1e-3 relative here; allow it on top of 5 standard errors.
    np.testing.assert_allclose(
        jnp.mean(ys, 0), m * y0, atol=5 * se_mean + 2e-3 * abs(float(m)) * 1.5
    )
    np.testing.assert_allclose(
        jnp.var(ys, 0), float(s) ** 2, atol=5 * se_var + 5e-3 * float(s) ** 2
    )


# --------------------------------------------------- shapes, dtypes, transforms
@pytest.mark.parametrize("shape", [(1,), (2,), (1, 8, 8)])
@pytest.mark.parametrize("name", list(SDES))
def test_shapes_and_dtypes_under_vmap(name, shape):
    sde = SDES[name]
    ts = jnp.linspace(0.01, 1.0, 5)
    ys = jnp.ones((5, *shape))
    drift = jax.vmap(sde.drift)(ts, ys)
    g = jax.vmap(sde.diffusion)(ts, ys)
    m, s = jax.vmap(sde.marginal)(ts)
    lp = jax.vmap(sde.prior_log_prob)(ys)
    rd = jax.vmap(sde.reverse_drift)(ts, ys, ys)
    pf = jax.vmap(sde.probability_flow_drift)(ts, ys, ys)
    assert drift.shape == rd.shape == pf.shape == (5, *shape)
    assert g.shape == m.shape == s.shape == lp.shape == (5,)
    for x in (drift, g, m, s, lp, rd, pf):
        assert x.dtype == jnp.float32
        assert bool(jnp.all(jnp.isfinite(x)))
    np.testing.assert_allclose(
        pf, drift - 0.5 * g.reshape(-1, *[1] * len(shape)) ** 2 * ys, rtol=1e-5
    )
    assert sde.prior_sample(jax.random.key(0), (3, *shape)).shape == (3, *shape)


@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "cosine"])
def test_jit_and_grad(name):
    sde = SDES[name]

    @jax.jit
    def std_of(sde, t):
        return sde.marginal(t)[1]

    t = 0.4
    ds_dt = jax.grad(lambda t: std_of(sde, t))(t)
    h = 1e-3
    fd = (float(std_of(sde, t + h)) - float(std_of(sde, t - h))) / (2 * h)
    assert float(ds_dt) == pytest.approx(fd, rel=1e-3)
    # the SDE is a pytree: jit over it with eqx.filter_jit-style static floats too
    assert float(jax.jit(lambda s: s.marginal(0.4)[0])(sde)) == pytest.approx(
        float(sde.marginal(0.4)[0])
    )


def test_x64_setting_is_respected():
    assert not jax.config.jax_enable_x64
    with jax.enable_x64(True):
        sde = ss.DDPM.linear(num_steps=10, beta_start=0.01, beta_end=0.2)
        assert sde.betas.dtype == jnp.float64
        assert ss.VPSDE().marginal(0.3)[1].dtype == jnp.float64
    assert not jax.config.jax_enable_x64
    assert ss.VPSDE().marginal(0.3)[1].dtype == jnp.float32


# ------------------------------------------------------------ bad parameters
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ss.VPSDE(beta_min=-0.1, beta_max=20.0), "beta_min"),
        (lambda: ss.VPSDE(beta_min=0.0, beta_max=20.0), "beta_min"),
        (lambda: ss.VPSDE(beta_min=5.0, beta_max=1.0), "beta_min.*beta_max"),
        (lambda: ss.VPSDE(beta_min=0.1, beta_max=float("nan")), "beta_max"),
        (lambda: ss.SubVPSDE(beta_min=0.1, beta_max=float("inf")), "beta_max"),
        (lambda: ss.VESDE(sigma_min=0.0, sigma_max=50.0), "sigma_min"),
        (lambda: ss.VESDE(sigma_min=60.0, sigma_max=50.0), "sigma_min.*sigma_max"),
        (lambda: ss.CosineVPSDE(t_max=1.0), "t_max"),
        (lambda: ss.CosineVPSDE(s=-0.1), "`s`"),
        (lambda: ss.DDPM([0.1, 1.2]), "betas"),
        (lambda: ss.DDPM([0.0, 0.1]), "betas"),
        (lambda: ss.DDPM([]), "betas"),
        (lambda: ss.DDPM([[0.1, 0.2]]), "betas"),
        (lambda: ss.DDPM([0.1, float("nan")]), "betas"),
        (lambda: ss.DDPM.linear(num_steps=0), "num_steps"),
        (lambda: ss.DDPM.linear(beta_start=0.5, beta_end=0.1), "beta_start"),
        (lambda: ss.DDPM.linear(beta_end=1.0), "beta_end"),
        (lambda: ss.NCSN([1.0, 0.5, 0.1]), "ascending.*sigmas\\[::-1\\]"),
        (lambda: ss.NCSN([0.1, 0.5, 0.5]), "ascending"),
        (lambda: ss.NCSN([-1.0, 1.0]), "sigmas"),
        (lambda: ss.NCSN.geometric(sigma_min=1.0, sigma_max=0.1), "sigma_min"),
    ],
)
def test_bad_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ss.NCSN.geometric(num_steps=2.5),
        lambda: ss.DDPM.linear(num_steps="10"),
        lambda: ss.VPSDE(beta_min="a", beta_max=1.0),
        lambda: ss.VPSDE(beta_min=True, beta_max=2.0),
    ],
)
def test_bad_parameter_types_raise(make):
    with pytest.raises((TypeError, ValueError)):
        make()


def test_prior_sample_bad_shape():
    with pytest.raises(ValueError, match="shape"):
        ss.VPSDE().prior_sample(jax.random.key(0), (3, -1))


def test_continuous_limit_of_the_discrete_sdes():
    # One definition of "the continuous SDE a discrete one discretises": the
    # DDPM linear schedule's limit is the VP SDE with beta from N beta_1 to
    # N beta_N (to first order), and its marginals agree at the grid points to
    # O(1/N): the piecewise-constant rates lag the line by half a step, which
    # shifts the integral of beta by about (beta_max - beta_min) t / (2N) = 0.01 t
    # and the std by at most ~3e-3 here. The NCSN ladder's limit is the VE SDE over the same sigma range.
    ddpm = ss.DDPM.linear(num_steps=1000, beta_start=1e-4, beta_end=0.02)
    vp = ddpm.continuous_limit()
    assert isinstance(vp, ss.VPSDE)
    np.testing.assert_allclose([vp.beta_min, vp.beta_max], [0.1, 20.0], rtol=0.02)
    for t in (0.1, 0.5, 1.0):
        np.testing.assert_allclose(vp.marginal(t), ddpm.marginal(t), atol=4e-3)
    ncsn = ss.NCSN.geometric(sigma_min=0.01, sigma_max=1.0, num_steps=100)
    ve = ncsn.continuous_limit()
    assert isinstance(ve, ss.VESDE)
    np.testing.assert_allclose([ve.sigma_min, ve.sigma_max], [0.01, 1.0], rtol=1e-6)
