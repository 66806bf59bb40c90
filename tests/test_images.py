"""Images end to end: the digits split, image folders and arrays, the bits/dim
baselines and the digits quality score."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss


PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


# --- the digits split ---------------------------------------------------------


def test_digits_split_is_fixed_disjoint_and_stratified():
    from sklearn.datasets import load_digits

    raw = load_digits()
    np.random.seed(123)  # the split must not depend on any random state
    train = ss.datasets.get("digits", split="train")
    test = ss.datasets.get("digits", split="test")
    everything = ss.datasets.get("digits")
    assert ss.datasets.get("digits", split="all").images.shape == (1797, 1, 8, 8)
    assert everything.split == "all" and train.split == "train"
    assert train.images.shape == (1442, 1, 8, 8) and test.images.shape == (355, 1, 8, 8)
    # the documented rule: image j of its class (in scikit-learn's order) is a
    # test image iff j % 5 == 4
    expected_test = np.zeros(1797, bool)
    for c in range(10):
        expected_test[np.flatnonzero(raw.target == c)[4::5]] = True
    np.testing.assert_array_equal(test.pixels[:, 0], raw.images[expected_test])
    np.testing.assert_array_equal(train.pixels[:, 0], raw.images[~expected_test])
    np.testing.assert_array_equal(test.labels, raw.target[expected_test])
    np.testing.assert_array_equal(train.labels, raw.target[~expected_test])
    counts = np.bincount(np.asarray(test.labels), minlength=10)
    assert counts.min() >= 34 and counts.max() <= 36
    # disjoint as images, not only as indices: no test image occurs in train
    train_rows = {r.tobytes() for r in np.asarray(train.pixels).reshape(-1, 64)}
    shared = sum(
        r.tobytes() in train_rows for r in np.asarray(test.pixels).reshape(-1, 64)
    )
    assert shared <= 2  # scikit-learn's digits hold a couple of exact duplicates
    np.testing.assert_array_equal(
        ss.datasets.get("digits", split="test").images, test.images
    )
    assert isinstance(test, ss.datasets.AbstractLabelledDataset)
    assert test.num_levels == 17 and test.num_classes == 10
    ys, labels = test.sample_with_labels(jax.random.key(0), 50)
    assert ys.shape == (50, 1, 8, 8) and set(np.asarray(labels)) <= set(range(10))


def test_get_split_errors():
    with pytest.raises(ValueError, match="'two-moons' has no splits.*'digits'"):
        ss.datasets.get("two-moons", split="train")
    with pytest.raises(ValueError, match="Unknown split 'val'.*'train', 'test'"):
        ss.datasets.get("digits", split="val")
    with pytest.raises(ValueError, match="`split` must be one of"):
        ss.datasets.Digits("validation")


# --- image folders and arrays ------------------------------------------------


def _write(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)


def test_image_folder_round_trips_grey_pngs(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 5), dtype=np.uint8) for _ in range(3)]
    arrays[0][0, 0], arrays[0][0, 1] = 0, 255
    for i, a in enumerate(arrays):
        _write(tmp_path / f"img{i}.png", a)
    (tmp_path / ".DS_Store").write_bytes(b"\x00junk")  # hidden files are skipped
    ds = ss.datasets.ImageFolder(tmp_path)
    assert ds.shape == (1, 6, 5) and ds.num_levels == 256
    assert ds.files == ("img0.png", "img1.png", "img2.png")
    np.testing.assert_allclose(
        ds.images[:, 0], np.stack(arrays) / 127.5 - 1.0, atol=1e-6
    )
    assert float(ds.images.min()) == -1.0 and float(ds.images.max()) == 1.0
    np.testing.assert_array_equal(ds.pixels[:, 0], np.stack(arrays))
    batch = ds.sample(jax.random.key(0), 7)
    assert batch.shape == (7, 1, 6, 5) and batch.dtype == jnp.float32


def test_image_folder_rgb_and_modes(tmp_path):
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (4, 7, 3), dtype=np.uint8) for _ in range(2)]
    for i, a in enumerate(arrays):
        _write(tmp_path / f"c{i}.PNG", a)
    ds = ss.datasets.ImageFolder(tmp_path)
    assert ds.shape == (3, 4, 7)
    np.testing.assert_array_equal(
        ds.pixels, np.transpose(np.stack(arrays), (0, 3, 1, 2))
    )
    grey = ss.datasets.ImageFolder(tmp_path, mode="L")
    assert grey.shape == (1, 4, 7)
    # an alpha channel is dropped
    rgba = np.concatenate([arrays[0], np.full((4, 7, 1), 7, np.uint8)], axis=2)
    _write(tmp_path / "c2.png", rgba)
    np.testing.assert_array_equal(
        ss.datasets.ImageFolder(tmp_path).pixels[2], np.transpose(arrays[0], (2, 0, 1))
    )
    # JPEG is read too (lossy: compare loosely)
    jpg = tmp_path / "j"
    jpg.mkdir()
    _write(jpg / "a.jpg", np.full((8, 8, 3), 200, np.uint8), quality=95)
    assert abs(float(ss.datasets.ImageFolder(jpg).pixels.mean()) - 200) < 3


def _one_line_error(exc_type, match, fn):
    with pytest.raises(exc_type, match=match) as info:
        fn()
    assert "\n" not in str(info.value)


def test_image_folder_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(
        ValueError, "'.*empty' is empty", lambda: ss.datasets.ImageFolder(empty)
    )
    _one_line_error(
        FileNotFoundError,
        "does not exist",
        lambda: ss.datasets.ImageFolder(tmp_path / "nope"),
    )

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _write(mixed / "a.png", np.zeros((8, 8), np.uint8))
    _write(mixed / "b.png", np.zeros((8, 9), np.uint8))
    _one_line_error(
        ValueError,
        r"b\.png' has size 9x8 grey-scale.*a\.png' has 8x8",
        lambda: ss.datasets.ImageFolder(mixed),
    )

    modes = tmp_path / "modes"
    modes.mkdir()
    _write(modes / "a.png", np.zeros((8, 8), np.uint8))
    _write(modes / "b.png", np.zeros((8, 8, 3), np.uint8))
    _one_line_error(
        ValueError, r"b\.png'.*mode='RGB'", lambda: ss.datasets.ImageFolder(modes)
    )
    assert ss.datasets.ImageFolder(modes, mode="RGB").shape == (3, 8, 8)

    broken = tmp_path / "broken"
    broken.mkdir()
    _write(broken / "a.png", np.zeros((8, 8), np.uint8))
    (broken / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _one_line_error(
        ValueError,
        r"Cannot read image '.*b\.png'",
        lambda: ss.datasets.ImageFolder(broken),
    )

    other = tmp_path / "other"
    other.mkdir()
    _write(other / "a.png", np.zeros((8, 8), np.uint8))
    (other / "notes.txt").write_text("hello")
    _one_line_error(
        ValueError,
        r"notes\.txt' is not a PNG/JPEG",
        lambda: ss.datasets.ImageFolder(other),
    )

    nested = tmp_path / "nested"
    (nested / "sub").mkdir(parents=True)
    _one_line_error(
        ValueError, r"sub' is a subfolder", lambda: ss.datasets.ImageFolder(nested)
    )

    deep = tmp_path / "deep"
    deep.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(deep / "a.png")
    _one_line_error(
        ValueError,
        r"a\.png' has I;16 pixels|a\.png' has I pixels",
        lambda: ss.datasets.ImageFolder(deep),
    )

    _one_line_error(
        ValueError,
        "`mode` must be",
        lambda: ss.datasets.ImageFolder(other, mode="CMYK"),
    )


def test_image_arrays(tmp_path):
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (5, 6, 7), dtype=np.uint8)
    colour = rng.integers(0, 256, (4, 6, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    np.savez(tmp_path / "colour.npz", images=colour)
    ds = ss.datasets.load_images(tmp_path / "grey.npy")
    assert isinstance(ds, ss.datasets.ImageArray)
    assert ds.shape == (1, 6, 7) and ds.num_levels == 256
    np.testing.assert_array_equal(ds.pixels[:, 0], grey)
    ds = ss.datasets.load_images(tmp_path / "colour.npz")
    assert ds.shape == (3, 6, 7)
    np.testing.assert_array_equal(ds.pixels, np.transpose(colour, (0, 3, 1, 2)))
    np.testing.assert_allclose(ds.images, ds.pixels / 127.5 - 1.0, atol=1e-6)
    folder = tmp_path / "f"
    folder.mkdir()
    _write(folder / "a.png", grey[0])
    assert isinstance(ss.datasets.load_images(folder), ss.datasets.ImageFolder)

    np.save(tmp_path / "float.npy", grey.astype(np.float32))
    _one_line_error(
        TypeError,
        r"float\.npy'.*uint8",
        lambda: ss.datasets.load_images(tmp_path / "float.npy"),
    )
    np.save(tmp_path / "chw.npy", np.zeros((2, 3, 8, 8), np.uint8))
    _one_line_error(
        ValueError,
        r"chw\.npy'.*\(n, H, W, C\)",
        lambda: ss.datasets.load_images(tmp_path / "chw.npy"),
    )
    np.savez(tmp_path / "two.npz", a=grey, b=grey)
    _one_line_error(
        ValueError,
        r"two\.npz' holds the arrays",
        lambda: ss.datasets.load_images(tmp_path / "two.npz"),
    )
    assert ss.datasets.load_images(tmp_path / "two.npz", key="b").shape == (1, 6, 7)
    (tmp_path / "x.txt").write_text("1")
    _one_line_error(
        ValueError,
        r"x\.txt' is neither",
        lambda: ss.datasets.load_images(tmp_path / "x.txt"),
    )
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    _one_line_error(
        ValueError,
        r"Cannot read '.*bad\.npy'",
        lambda: ss.datasets.load_images(tmp_path / "bad.npy"),
    )
    _one_line_error(
        ValueError,
        "holds no images",
        lambda: ss.datasets.ImageArray(np.zeros((0, 4, 4), np.uint8)),
    )


# --- bits/dim baselines --------------------------------------------------------


def test_uniform_bits_per_dim():
    assert ss.metrics.uniform_bits_per_dim(17) == pytest.approx(math.log2(17))
    assert ss.metrics.uniform_bits_per_dim(256) == 8.0


def _gaussian_fit(train_pixels, delta):
    c = -1.0 + delta * np.asarray(train_pixels, np.float64).reshape(
        len(train_pixels), -1
    )
    return c.mean(0), np.sqrt(c.var(0) + delta**2 / 12)


def test_gaussian_bits_per_dim_is_the_dequantised_expectation():
    train = ss.datasets.get("digits", split="train")
    test = ss.datasets.get("digits", split="test")
    pixels = np.asarray(test.pixels[:20], np.float64).reshape(20, 64)
    bpd = ss.metrics.gaussian_bits_per_dim(
        test.pixels[:20], train_pixels=train.pixels, num_levels=17
    )
    assert bpd.shape == (20,)
    # Monte Carlo over the dequantisation noise, straight from the definition
    delta = 2.0 / 16
    mu, sd = _gaussian_fit(train.pixels, delta)
    u = np.random.default_rng(0).uniform(size=(4000, 20, 64))
    y = -1.0 + delta * (pixels + u - 0.5)
    logp = np.sum(
        -0.5 * ((y - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi), -1
    )
    mc = -(logp + 64 * math.log(delta)) / (64 * math.log(2))
    np.testing.assert_allclose(
        mc.mean(0), bpd, atol=5 * mc.std(0).max() / math.sqrt(4000)
    )
    # on the whole test split: below the uniform bound
    full = ss.metrics.gaussian_bits_per_dim(
        test.pixels, train_pixels=train.pixels, num_levels=17
    ).mean()
    assert 3.0 < full < ss.metrics.uniform_bits_per_dim(17)


def test_gaussian_bits_per_dim_matches_bits_per_dim_of_its_exact_score():
    """Same convention as ss.bits_per_dim: the Gaussian's exact score under the VP
    SDE with its exact p_T as prior gives the same number at the same noise."""
    train = ss.datasets.get("digits", split="train")
    test = ss.datasets.get("digits", split="test")
    delta = 2.0 / 16
    mu, sd = _gaussian_fit(train.pixels, delta)
    gauss = ss.datasets.GaussianMixture(np.ones(1), mu[None], sd[None])
    sde = ss.VPSDE()
    inner = ss.exact_score(gauss, sde)
    prior = gauss.marginal(sde, sde.T)
    pixels = test.pixels[:2]
    noise = jax.random.uniform(jax.random.key(3), pixels.shape)
    bpd = ss.bits_per_dim(
        jax.random.key(4),
        sde,
        lambda t, y: inner(t, y.reshape(64)).reshape(y.shape),
        pixels,
        num_levels=17,
        noise=noise,
        t_eps=0.0,
        prior_log_prob=lambda y: prior.log_prob(y.reshape(64)),
    )
    y = -1.0 + delta * (
        np.asarray(pixels).reshape(2, 64) + np.asarray(noise).reshape(2, 64) - 0.5
    )
    logp = np.sum(
        -0.5 * ((y - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi), -1
    )
    direct = -(logp + 64 * math.log(delta)) / (64 * math.log(2))
    np.testing.assert_allclose(bpd, direct, atol=2e-4)


def test_gaussian_bits_per_dim_errors():
    with pytest.raises(ValueError, match="integers in \\[0, 16\\]"):
        ss.metrics.gaussian_bits_per_dim(
            np.full((2, 4), 0.5), train_pixels=np.zeros((2, 4)), num_levels=17
        )
    with pytest.raises(ValueError, match="same data shape"):
        ss.metrics.gaussian_bits_per_dim(
            np.zeros((2, 4)), train_pixels=np.zeros((2, 5)), num_levels=17
        )


# --- the quality score ---------------------------------------------------------


def test_frechet_distance_closed_forms():
    x = np.random.default_rng(0).normal(size=(500, 6)) @ np.diag([1, 2, 3, 1, 1, 0.5])
    assert ss.metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.arange(6.0)
    assert ss.metrics.frechet_distance(x, x + shift) == pytest.approx(np.sum(shift**2))
    # scaling by a: Sigma_b = a^2 Sigma_a, so d^2 = (1 - a)^2 tr(Sigma_a) (+ mean term)
    a = 3.0
    expected = (1 - a) ** 2 * np.trace(np.cov(x, rowvar=False)) + np.sum(
        ((1 - a) * x.mean(0)) ** 2
    )
    assert ss.metrics.frechet_distance(x, a * x) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="shapes"):
        ss.metrics.frechet_distance(x, x[:, :3])


def test_quality_of_real_digits_is_near_its_ceiling_and_noise_far_below():
    train = ss.datasets.get("digits", split="train")
    test = ss.datasets.get("digits", split="test")
    classifier = ss.metrics.digits_classifier()
    accuracy = np.mean(
        np.argmax(jax.vmap(classifier)(test.images), 1) == np.asarray(test.labels)
    )
    assert accuracy > 0.95
    real = ss.metrics.digits_quality(test.images)  # held out from the classifier
    assert real.confident_share > 0.85 and real.class_kl < 0.01
    assert real.frechet_distance < 1e-6  # the reference itself
    other = ss.metrics.digits_quality(train.images[:355])  # other real digits
    assert other.confident_share > 0.85 and other.class_kl < 0.05
    assert other.frechet_distance < 0.5
    for noise in (
        jax.random.uniform(jax.random.key(0), (355, 1, 8, 8), minval=-1, maxval=1),
        jax.random.normal(jax.random.key(1), (355, 1, 8, 8)),
    ):
        q = ss.metrics.digits_quality(noise)
        assert q.confident_share < 0.4
        assert q.frechet_distance > 10 * other.frechet_distance
    one_class = ss.metrics.digits_quality(test.images[np.asarray(test.labels) == 3])
    assert one_class.class_kl == pytest.approx(math.log(10), abs=0.1)
    np.testing.assert_allclose(one_class.class_histogram.sum(), 1.0)
    with pytest.raises(ValueError, match=r"\(n, 1, 8, 8\)"):
        ss.metrics.digits_quality(np.zeros((5, 3, 8, 8), np.float32))
    with pytest.raises(TypeError, match="raw pixels"):
        ss.metrics.digits_quality(test.pixels.astype(np.int32))


# --- figures ---------------------------------------------------------------------


def test_image_figures(tmp_path):
    images = np.linspace(-1.5, 1.5, 10 * 64).reshape(10, 1, 8, 8)
    fig = ss.plotting.plot_image_grid(images, ncols=4, path=tmp_path / "grid.png")
    assert (tmp_path / "grid.png").exists()
    assert sum(len(ax.images) > 0 for ax in fig.axes) == 10
    fig = ss.plotting.plot_image_grid(np.zeros((3, 3, 4, 4)))  # colour
    assert fig.axes[0].images[0].get_array().shape == (4, 4, 3)
    paths = np.zeros((2, 5, 1, 8, 8))
    fig = ss.plotting.plot_image_strip(
        paths, [1e-3, 0.25, 0.5, 0.75, 1.0], path=tmp_path / "s.png"
    )
    assert fig.axes[0].get_title() == "t = 1"
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        ss.plotting.plot_image_grid(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="one per column"):
        ss.plotting.plot_image_strip(paths, [0.0, 1.0])


@pytest.mark.recipe
def test_short_recipe_run_beats_noise_on_the_quality_score():
    """A short run of the digits recipe (smaller and shorter): its samples are far
    closer to real digits than noise is. Behind the `recipe` marker (run by hand
    with `pytest -m recipe`): it costs about half an hour of CPU with today's
    scanned UNet step, more than CI's slow budget, and has not been run yet."""
    train = ss.datasets.get("digits", split="train")
    net = ss.nets.UNet(
        train.shape, channels=(16, 32), embedding_dim=64, key=jax.random.key(0)
    )
    model = ss.ScoreModel(net, ss.VPSDE(), parameterization="eps")
    result = ss.train(
        model,
        train,
        key=jax.random.key(1),
        steps=1500,
        batch_size=64,
        learning_rate=2e-3,
        progress=False,
    )
    ys = ss.sample(
        jax.random.key(2),
        ss.VPSDE(),
        result.ema_model,
        num_samples=300,
        shape=train.shape,
        sampler=ss.ReverseSDE(num_steps=200),
    )
    samples = ss.metrics.digits_quality(ys)
    noise = ss.metrics.digits_quality(
        jax.random.uniform(jax.random.key(3), (300, 1, 8, 8), minval=-1, maxval=1)
    )
    assert samples.confident_share > noise.confident_share + 0.3
    assert samples.frechet_distance < noise.frechet_distance / 4
    assert samples.class_kl < 0.3
