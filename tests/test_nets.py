"""Networks and the score model's parameterisations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss

from .helpers import all_sdes


@eqx.filter_jit
def apply(net, t, y, label):
    return net(t, y, label)


@pytest.fixture(scope="module")
def unet():
    return ss.nets.UNet(
        (1, 8, 8), channels=(8, 8), num_classes=10, key=jax.random.key(0)
    )


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (1, 32, 32)])
def test_unet_shapes_and_labels(unet, shape):
    # The weights do not depend on H, W: one UNet serves every image size.
    y = jnp.ones(shape)
    labels = jnp.array([3, 4])
    out = jax.vmap(apply, in_axes=(None, None, None, 0))(unet, 0.1, y, labels)
    assert out.shape == (2, *shape) and np.all(np.isfinite(out))
    assert not np.allclose(out[0], out[1])  # the label is used


def test_unet_for_three_channels():
    net = ss.nets.UNet((3, 32, 32), channels=(8, 8), key=jax.random.key(0))
    assert net.data_shape == (3, 32, 32)
    assert apply(net, 0.1, jnp.ones((3, 32, 32)), None).shape == (3, 32, 32)


def test_mlp_shapes_time_and_labels():
    net = ss.nets.MLP((2,), width=8, depth=1, num_classes=3, key=jax.random.key(0))
    y = jnp.array([0.3, -1.0])
    out = apply(net, 0.0, y, 1)
    assert out.shape == (2,)
    assert not np.allclose(out, apply(net, 0.5, y, 1))
    assert not np.allclose(out, apply(net, 0.0, y, 2))
    assert np.allclose(apply(net, 0.0, y, None), apply(net, 0.0, y, 3))
    flat = ss.nets.MLP((1, 4, 4), width=8, depth=1, key=jax.random.key(0))
    assert flat(0.0, jnp.zeros((1, 4, 4))).shape == (1, 4, 4)


def test_mlp_output_continues_linearly_far_from_the_data():
    """No LayerNorm before the output (issue 10's trained-model outliers): far out
    along any ray the MLP is affine in the radius, so doubling a large input
    doubles the output's growth instead of leaving the output bounded."""
    net = ss.nets.MLP((2,), width=16, depth=2, key=jax.random.key(0))
    for angle in np.linspace(0.0, 2 * np.pi, 8, endpoint=False):
        u = jnp.array([np.cos(angle), np.sin(angle)], jnp.float32)
        f1, f2, f3 = (net(0.3, r * u) for r in (1e3, 2e3, 3e3))
        step = f2 - f1
        assert float(jnp.linalg.norm(step)) > 1.0  # a bounded output moves ~0
        np.testing.assert_allclose(f3 - f2, step, rtol=1e-3, atol=1e-2)


def test_net_argument_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="data_shape"):
        ss.nets.UNet((8, 8), key=key)
    with pytest.raises(ValueError, match="attention_levels"):
        ss.nets.UNet((1, 8, 8), channels=(8, 16), attention_levels=(2,), key=key)
    with pytest.raises(ValueError, match="width"):
        ss.nets.MLP((2,), width=0, key=key)
    with pytest.raises(TypeError, match="output_norm"):
        ss.nets.MLP((2,), output_norm="yes", key=key)
    with pytest.raises(ValueError, match="parameterization"):
        ss.ScoreModel(ss.nets.MLP((2,), key=key), ss.VPSDE(), parameterization="y")


@pytest.mark.parametrize("sde_name", list(all_sdes()))
@pytest.mark.parametrize("parameterization", ["score", "eps", "v", "x0"])
def test_parameterisations_round_trip(sde_name, parameterization):
    """score -> network target -> score is the identity, and vice versa, for every
    SDE; and the exact target turns into the exact score."""
    sde = all_sdes()[sde_name]
    net = ss.nets.MLP((1,), width=8, depth=1, key=jax.random.key(0))
    model = ss.ScoreModel(net, sde, parameterization=parameterization, data_std=3.0)
    mix = ss.datasets.get("mixture-1d")
    exact = ss.exact_score(mix, sde)
    ts = jnp.array([0.05, 0.3, 0.7, 1.0])
    ys = jnp.array([[-4.0], [0.5], [2.0], [7.0]])
    scores = jax.vmap(exact)(ts, ys)
    outputs = jax.vmap(model.output_from_score)(ts, ys, scores)
    back = jax.vmap(model.score_from_output)(ts, ys, outputs)
    # Going through y0_hat = (y + s^2 score) / m loses float32 digits of |y| at
    # small s: allow that conditioning (eps32 |y| / s^2), nothing more.
    _, stds = jax.vmap(sde.marginal)(ts)
    slack = 0.0 if parameterization in ("eps", "score") else 1e-6
    tol = 1e-5 + slack * (1 + jnp.abs(ys)) / stds[:, None] ** 2
    assert np.all(np.abs(back - scores) <= tol + 2e-4 * np.abs(scores))
    outputs2 = jax.vmap(model.output_from_score)(ts, ys, back)
    assert np.allclose(outputs2, outputs, rtol=2e-4, atol=1e-4)
    # The model applies the network through the preconditioning.
    c_in, c_noise = model.preconditioning(0.3)
    raw = net(c_noise, c_in * ys[1])
    assert np.allclose(model(0.3, ys[1]), model.score_from_output(0.3, ys[1], raw))


def test_v_target_is_salimans_ho_for_vp():
    """For a VP SDE and data_std = 1, the 'v' target is m eps - s y0."""
    sde = ss.VPSDE()
    net = ss.nets.MLP((2,), width=8, depth=1, key=jax.random.key(0))
    model = ss.ScoreModel(net, sde, parameterization="v")
    y0, eps, t = jnp.array([0.4, -1.2]), jnp.array([1.1, 0.3]), 0.4
    m, s = sde.marginal(t)
    y = m * y0 + s * eps
    # With the conditional score -eps/s (i.e. the exact x0 = y0), the target is v.
    assert np.allclose(
        model.output_from_score(t, y, -eps / s), m * eps - s * y0, atol=1e-5
    )


@pytest.mark.parametrize("sde_name", ["vp", "ve", "ncsn"])
def test_preconditioned_input_has_unit_variance(sde_name):
    sde = all_sdes()[sde_name]
    mix = ss.datasets.get("mixture-1d")
    data_std = float(jnp.sqrt(mix.variance[0]))
    net = ss.nets.MLP((1,), width=8, depth=1, key=jax.random.key(0))
    model = ss.ScoreModel(net, sde, data_std=data_std)
    y0 = mix.sample(jax.random.key(1), 20000) - mix.mean[None]
    for t in (0.01, 0.5, 1.0):
        m, s = sde.marginal(t)
        y = m * y0 + s * jax.random.normal(jax.random.key(2), y0.shape)
        c_in, _ = model.preconditioning(t)
        assert abs(float(jnp.std(c_in * y)) - 1.0) < 0.03


@pytest.mark.parametrize(
    "kernel, kwargs",
    [(3, dict(padding=1)), (3, dict(stride=2, padding=1)), (1, {}), (3, {})],
)
def test_unet_channels_last_convolution_equals_equinox(kernel, kwargs):
    """The UNet runs its convolutions channels-last (fast on XLA:CPU inside
    compiled loops); the numbers must be those of `eqx.nn.Conv2d`."""
    from scoresde.nets._unet import _conv

    conv = eqx.nn.Conv2d(5, 7, kernel, key=jax.random.key(0), **kwargs)
    x = jax.random.normal(jax.random.key(1), (5, 9, 7))
    np.testing.assert_allclose(_conv(conv, x), conv(x), rtol=1e-6, atol=1e-6)
