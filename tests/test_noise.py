"""The samplers' counter-based normal stream: standard normal, independent across
counters, elements and keys, deterministic, and the same under `vmap`."""

import diffrax
import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from scoresde._samplers._brownian import GridBrownianPath
from scoresde._samplers._noise import NormalStream, threefry_2x32


def test_threefry_is_jax_bit_for_bit():
    # The unrolled hash equals JAX's Threefry-2x32 on random keys and counters,
    # the edge values included, so the streams are those of jax.random's hash.
    rng = np.random.default_rng(0)
    for _ in range(3):
        key = jnp.asarray(rng.integers(0, 2**32, 2, dtype=np.uint64), jnp.uint32)
        x = rng.integers(0, 2**32, 64, dtype=np.uint64).astype(np.uint32)
        x[:4] = [0, 1, 2**31, 2**32 - 1]
        x = jnp.asarray(x)
        ours = jnp.concatenate(threefry_2x32(key, x[:32], x[32:]))
        np.testing.assert_array_equal(ours, jex_random.threefry_2x32(key, x))


def _streams(n, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    return jax.vmap(NormalStream.from_key)(keys)


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 4, 5)], ids=str)
def test_standard_normal(shape):
    streams = _streams(20_000)
    z = jax.vmap(lambda s: s.normal(7, shape, jnp.float32))(streams)
    assert z.shape == (20_000, *shape) and z.dtype == jnp.float32
    z = np.asarray(z).reshape(-1)
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-3
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 5 * se
    assert abs(z.std() - 1) < 5 * se
    # Fourth moment 3 (a uniform or a clipped draw would not give it).
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / z.size)


def test_float64_under_x64():
    with jax.enable_x64(True):
        streams = _streams(5_000)
        z = jax.vmap(lambda s: s.normal(3, (7,), jnp.float64))(streams)
        assert z.dtype == jnp.float64
        z = np.asarray(z).reshape(-1)
        assert scipy.stats.kstest(z, "norm").pvalue > 1e-3
        # 52 random mantissa bits, not float32's 23: distinct values everywhere.
        assert np.unique(z).size == z.size
    assert not jax.config.jax_enable_x64


def test_independent_across_counters_elements_and_keys():
    n = 40_000
    streams = _streams(n)
    a = np.asarray(jax.vmap(lambda s: s.normal(0, (2,), jnp.float32))(streams))
    b = np.asarray(jax.vmap(lambda s: s.normal(1, (2,), jnp.float32))(streams))
    other = np.asarray(
        jax.vmap(lambda s: s.normal(0, (2,), jnp.float32))(_streams(n, seed=1))
    )
    bound = 5 / np.sqrt(n)
    for x, y in [
        (a[:, 0], b[:, 0]),  # consecutive counters
        (a[:, 0], a[:, 1]),  # elements of one draw
        (a[:, 0], other[:, 0]),  # different keys
        (a[:-1, 0], a[1:, 0]),  # neighbouring samples
    ]:
        assert abs(np.corrcoef(x, y)[0, 1]) < bound


def test_deterministic_and_batch_independent():
    streams = _streams(8)
    one = streams.__class__(streams.keypair[3])
    z = one.normal(5, (4,), jnp.float32)
    assert bool(jnp.all(z == one.normal(5, (4,), jnp.float32)))
    traced = jax.jit(lambda c: one.normal(c, (4,), jnp.float32))(jnp.uint32(5))
    assert bool(jnp.all(z == traced))
    batched = jax.vmap(lambda s: s.normal(5, (4,), jnp.float32))(streams)
    assert bool(jnp.all(z == batched[3]))
    assert not bool(jnp.allclose(z, one.normal(6, (4,), jnp.float32)))


def test_fixed_step_brownian_increments():
    # W over step k has variance du; the Levy area H has variance du / 12 and is
    # independent of W; one increment per step, the same whatever the end times'
    # rounding.
    du = 0.01
    streams = _streams(20_000)

    def increments(stream):
        path = GridBrownianPath(
            jax.ShapeDtypeStruct((1,), jnp.float32),
            jnp.asarray(np.arange(10) * du, jnp.float32),
            stream,
            diffrax.SpaceTimeLevyArea,
        )
        levy = path.evaluate(3 * du, 4 * du, use_levy=True)
        return levy.W, levy.H, path.evaluate(3 * du + 1e-7, 4 * du)

    w, h, w_again = jax.vmap(increments)(streams)
    w, h = np.asarray(w)[:, 0], np.asarray(h)[:, 0]
    assert abs(w.var() / du - 1) < 0.05
    assert abs(h.var() / (du / 12) - 1) < 0.05
    assert abs(np.corrcoef(w, h)[0, 1]) < 0.04
    np.testing.assert_allclose(np.asarray(w_again)[:, 0], w, rtol=1e-4)
