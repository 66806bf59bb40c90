"""Named datasets: shapes, support, determinism and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss


@pytest.mark.parametrize("name", ss.datasets.NAMES)
def test_every_dataset_samples(name):
    ds = ss.datasets.get(name)
    assert isinstance(ds, ss.datasets.AbstractDataset)
    ys = ds.sample(jax.random.key(0), 64)
    assert ys.shape == (64, *ds.shape)
    assert ys.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(ys)))
    np.testing.assert_array_equal(ys, ds.sample(jax.random.key(0), 64))
    assert not np.array_equal(ys, ds.sample(jax.random.key(1), 64))


def test_shapes():
    assert ss.datasets.get("mixture-1d").shape == (1,)
    for name in ("nine-gaussians", "two-moons", "swiss-roll", "checkerboard"):
        assert ss.datasets.get(name).shape == (2,)
    assert ss.datasets.get("digits").shape == (1, 8, 8)


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="mixture-1d.*nine-gaussians.*digits"):
        ss.datasets.get("mnist")


def test_digits():
    from sklearn.datasets import load_digits

    ds = ss.datasets.get("digits")
    raw = load_digits()
    assert ds.images.shape == (1797, 1, 8, 8)
    np.testing.assert_allclose(
        ds.images[:, 0], raw.images / 8.0 - 1.0, rtol=1e-6, atol=1e-7
    )
    assert float(ds.images.min()) == -1.0 and float(ds.images.max()) == 1.0
    np.testing.assert_array_equal(ds.labels, raw.target)
    ys, labels = ds.sample_with_labels(jax.random.key(0), 10)
    # each drawn image carries its own label
    for y, lab in zip(ys, labels):
        idx = np.flatnonzero(
            np.all(np.asarray(ds.images) == np.asarray(y), axis=(1, 2, 3))
        )
        assert int(lab) in set(np.asarray(ds.labels)[idx].tolist())


def test_checkerboard_support():
    ys = (
        np.asarray(ss.datasets.get("checkerboard").sample(jax.random.key(0), 5000))
        / 2.0
    )
    assert np.all(np.abs(ys) <= 2.0)
    assert np.all((np.floor(ys[:, 0]) + np.floor(ys[:, 1])) % 2 == 0)


def test_two_moons_lie_on_their_arcs():
    ys = np.asarray(ss.datasets.TwoMoons(noise=1e-4).sample(jax.random.key(0), 2000))
    u = (ys + np.array([1.0, 0.2])) / 2.0
    upper = np.hypot(u[:, 0], u[:, 1])
    lower = np.hypot(u[:, 0] - 1.0, u[:, 1] - 0.5)
    dist = np.minimum(np.abs(upper - 1), np.abs(lower - 1))
    assert dist.max() < 1e-3
    assert 0.4 < np.mean(np.abs(upper - 1) < 1e-3) < 0.6


def test_swiss_roll_radius_is_its_angle():
    ys = (
        np.asarray(ss.datasets.SwissRoll(noise=1e-4).sample(jax.random.key(0), 2000))
        * 5
    )
    r = np.hypot(ys[:, 0], ys[:, 1])
    assert r.min() > 1.5 * np.pi - 1e-2 and r.max() < 4.5 * np.pi + 1e-2
    # (r cos r, r sin r): the angle of each point equals its radius mod 2 pi
    ang = np.arctan2(ys[:, 1], ys[:, 0]) % (2 * np.pi)
    diff = np.abs((ang - r % (2 * np.pi) + np.pi) % (2 * np.pi) - np.pi)
    assert diff.max() < 1e-2


def test_array_dataset():
    data = np.arange(12, dtype=np.float64).reshape(6, 2)
    ds = ss.datasets.ArrayDataset(data)
    assert ds.shape == (2,)
    ys = ds.sample(jax.random.key(0), 100)
    assert set(map(tuple, np.asarray(ys).tolist())) <= set(map(tuple, data.tolist()))
    with pytest.raises(ValueError, match="reshape to \\(n, 1\\)"):
        ss.datasets.ArrayDataset(np.arange(5.0))
    with pytest.raises(ValueError, match="finite"):
        ss.datasets.ArrayDataset(np.array([[1.0], [np.nan]]))
    with pytest.raises(TypeError, match="real numeric"):
        ss.datasets.ArrayDataset(np.array([["a"], ["b"]]))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_sample_counts(bad):
    with pytest.raises((ValueError, TypeError), match="`n`|'n'"):
        ss.datasets.get("nine-gaussians").sample(jax.random.key(0), bad)


def test_bad_toy_parameters():
    with pytest.raises(ValueError, match="noise"):
        ss.datasets.TwoMoons(noise=-1.0)
    with pytest.raises(ValueError, match="noise"):
        ss.datasets.SwissRoll(noise=0.0)
