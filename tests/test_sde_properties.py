"""Property tests of the SDE kernels (hypothesis) and of the discrete SDEs' step
lookup at and just inside each step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import scoresde as ss


SETTINGS = settings(max_examples=20, deadline=None)
times = st.floats(0.02, 0.98)


@st.composite
def sdes(draw):
    kind = draw(st.sampled_from(["vp", "subvp", "ve", "cosine", "ddpm", "ncsn"]))
    # Ranges keep mean_coeff above ~1e-3 (float32 derivatives stay meaningful).
    if kind in ("vp", "subvp"):
        low = draw(st.floats(1e-2, 1.0))
        high = low + draw(st.floats(0.5, 20.0))
        return (ss.VPSDE if kind == "vp" else ss.SubVPSDE)(low, high)
    if kind == "ve":
        low = draw(st.floats(1e-3, 1.0))
        return ss.VESDE(low, low * draw(st.floats(2.0, 1e4)))
    if kind == "cosine":
        return ss.CosineVPSDE(s=draw(st.floats(1e-3, 0.1)))
    n = draw(st.integers(2, 50))
    if kind == "ddpm":
        low = draw(st.floats(1e-4, 1e-2))
        return ss.DDPM.linear(n, low, low * draw(st.floats(2.0, 10.0)))
    low = draw(st.floats(1e-3, 1.0))
    return ss.NCSN.geometric(low, low * draw(st.floats(2.0, 1e3)), n)


def _off_grid(sde, t):
    """Move `t` off the discrete SDEs' grid points (where the coefficients jump)."""
    if isinstance(sde, ss.AbstractDiscreteSDE):
        n = sde.num_steps
        return (np.floor(t * n) + 0.5) / n
    return t


@SETTINGS
@given(sdes(), times)
def test_kernel_solves_the_moment_equations(sde, t):
    """For dy = a(t) y dt + g(t) dw the kernel N(m y0, s^2) satisfies
    m' = a m and (s^2)' = 2 a s^2 + g^2; checked with forward-mode derivatives of
    `marginal` against `drift_coefficient` and `diffusion`."""
    t = jnp.float32(_off_grid(sde, t))
    (m, s), (dm, ds) = jax.jvp(sde.marginal, (t,), (jnp.ones_like(t),))
    a, g = sde.drift_coefficient(t), sde.diffusion(t)
    assert 0.0 < float(m) <= 1.0 and float(s) > 0.0
    np.testing.assert_allclose(dm, a * m, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(2 * s * ds, 2 * a * s**2 + g**2, rtol=2e-3, atol=1e-6)


@SETTINGS
@given(sdes(), times, times)
def test_kernel_spreads_monotonically(sde, t1, t2):
    """The noise-to-signal ratio s/m grows with t, and drift is a(t) y."""
    lo, hi = sorted((t1, t2))
    m_lo, s_lo = sde.marginal(lo)
    m_hi, s_hi = sde.marginal(hi)
    assert float(s_lo / m_lo) <= float(s_hi / m_hi) * (1 + 1e-5)
    y = jnp.array([1.5, -2.0])
    np.testing.assert_allclose(sde.drift(hi, y), sde.drift_coefficient(hi) * y)


@pytest.mark.parametrize("num_steps", [10, 1000])
@pytest.mark.parametrize("kind", ["ddpm", "ncsn"])
def test_coefficients_at_and_just_inside_each_step(kind, num_steps):
    """A grid point t_i (computed as i/N or as 1 - k/N in float32) has step i's
    coefficients; 8 float32 round-offs above it, step i + 1's. (The old tolerance,
    1e-3 of a step, gave step i's coefficients there.)"""
    sde = (
        ss.DDPM.linear(num_steps, 1e-3, 0.05)
        if kind == "ddpm"
        else ss.NCSN.geometric(0.01, 1.0, num_steps)
    )
    i = np.arange(1, num_steps)  # grid points strictly inside (0, 1)
    at = (i / num_steps).astype(np.float32)
    from_top = np.float32(1) - ((num_steps - i) / num_steps).astype(np.float32)
    inside = at + np.float32(8 * np.finfo(np.float32).eps)
    assert np.all(inside * num_steps - i > 4 * np.finfo(np.float32).eps * num_steps)
    index = jax.vmap(sde.step_index)
    np.testing.assert_array_equal(index(jnp.asarray(at)), i - 1)
    np.testing.assert_array_equal(index(jnp.asarray(from_top)), i - 1)
    np.testing.assert_array_equal(index(jnp.asarray(inside)), i)
    g = jax.vmap(sde.diffusion)
    np.testing.assert_array_equal(
        g(jnp.asarray(inside)), g(jnp.asarray(at + 0.5 / num_steps))
    )
    assert np.all(np.asarray(g(jnp.asarray(inside))) != np.asarray(g(jnp.asarray(at))))
