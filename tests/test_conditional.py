"""Labels, classifier-free guidance and imputation against exact answers: the
per-component score of a Gaussian mixture and its exact conditional mixtures."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import scoresde as ss

from .helpers import all_sdes, mode_weights


SDES = all_sdes()


def _mix_3d():
    return ss.datasets.GaussianMixture(
        weights=[0.2, 0.5, 0.3],
        means=[[-2.0, 1.0, 0.0], [0.5, 0.0, 1.0], [3.0, -2.0, -1.0]],
        stds=[[0.5, 1.0, 0.7], [0.3, 0.3, 0.4], [1.5, 0.7, 1.0]],
    )


def correlated_mixture():
    """Three components along the diagonal y = x, wide in x and narrow in y: the
    observed x says only softly which component a point came from, so the
    imputed y is a three-mode mixture whose weights depend on x."""
    return ss.datasets.GaussianMixture(
        [0.4, 0.2, 0.4], [[-2.0, -2.0], [0.0, 0.0], [2.0, 2.0]], [[1.0, 0.3]] * 3
    )


# --- the oracle with labels --------------------------------------------------


@pytest.mark.parametrize("name", list(SDES))
def test_exact_score_with_label_is_the_component_score(name):
    sde = SDES[name]
    mix = _mix_3d()
    score_fn = ss.exact_score(mix, sde)
    y = jnp.array([0.3, -0.7, 1.1])
    for t in (0.05, 0.5, 0.9):
        m, s = (float(v) for v in sde.marginal(t))
        for k in range(3):
            var = m**2 * np.asarray(mix.stds[k]) ** 2 + s**2
            expected = (m * np.asarray(mix.means[k]) - np.asarray(y)) / var
            np.testing.assert_allclose(score_fn(t, y, k), expected, rtol=2e-5)
            # and it is the gradient of component k's log-density
            logp = stats.norm.logpdf(
                np.asarray(y), m * np.asarray(mix.means[k]), np.sqrt(var)
            ).sum()
            np.testing.assert_allclose(score_fn.log_prob(t, y, k), logp, rtol=1e-5)
        # None and the null label K are the whole mixture
        np.testing.assert_allclose(score_fn(t, y, 3), score_fn(t, y), rtol=1e-6)
        np.testing.assert_allclose(score_fn(t, y, None), score_fn(t, y), rtol=1e-6)
        np.testing.assert_allclose(
            score_fn.log_prob(t, y, 3), score_fn.log_prob(t, y), rtol=1e-6
        )


def test_exact_score_labels_under_vmap_and_jit():
    mix = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()
    score_fn = ss.exact_score(mix, sde)
    y = jnp.array([0.4, -1.0])
    batched = jax.jit(jax.vmap(score_fn, in_axes=(None, None, 0)))(
        0.3, y, jnp.arange(10)
    )
    for k in range(10):
        np.testing.assert_allclose(batched[k], score_fn(0.3, y, k), rtol=1e-6)
    assert score_fn.num_classes == 9


def test_exact_score_label_out_of_range():
    score_fn = ss.exact_score(ss.datasets.get("nine-gaussians"), ss.VPSDE())
    y = jnp.zeros(2)
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="label"):
            score_fn(0.5, y, bad)
    with pytest.raises(Exception, match="label"):
        eqx.filter_jit(score_fn)(0.5, y, jnp.asarray(12)).block_until_ready()
    with pytest.raises(TypeError, match="label"):
        score_fn(0.5, y, 1.5)


# --- mixtures are labelled datasets ------------------------------------------


def test_mixture_is_a_labelled_dataset():
    mix = ss.datasets.get("nine-gaussians")
    assert isinstance(mix, ss.datasets.AbstractLabelledDataset)
    assert mix.num_classes == 9
    n = 45_000
    key = jax.random.key(0)
    ys, ks = mix.sample_with_labels(key, n)
    assert ys.shape == (n, 2) and ks.shape == (n,) and ks.dtype == jnp.int32
    # `sample` is the same draw without the labels
    np.testing.assert_array_equal(mix.sample(key, n), ys)
    w = np.arange(1, 10) / 45
    counts = np.bincount(np.asarray(ks), minlength=9) / n
    assert np.all(np.abs(counts - w) < 5 * np.sqrt(w * (1 - w) / n))
    ys, ks = np.asarray(ys), np.asarray(ks)
    for k in (0, 4, 8):
        yk = ys[ks == k]
        se = 0.25 / math.sqrt(len(yk))
        np.testing.assert_allclose(yk.mean(0), mix.means[k], atol=5 * se)
        np.testing.assert_allclose(yk.std(0), 0.25, rtol=0.05)


def test_class_conditional_training_on_a_mixture():
    """ss.train dispatches on AbstractLabelledDataset: a mixture trains a
    class-conditional network without explicit labels."""
    mix = ss.datasets.get("nine-gaussians")
    net = ss.nets.MLP((2,), width=16, depth=1, num_classes=9, key=jax.random.key(0))
    model = ss.ScoreModel(net, ss.VPSDE())
    result = ss.train(
        model,
        mix,
        key=jax.random.key(1),
        steps=2,
        batch_size=32,
        steps_per_dispatch=1,
        label_dropout=0.1,
        progress=False,
    )
    assert np.all(np.isfinite(result.losses))
    assert result.model(0.5, jnp.zeros(2), 3).shape == (2,)


# --- the exact conditional mixture -------------------------------------------


def test_condition_matches_bayes_rule():
    mix = _mix_3d()
    mask = np.array([True, False, True])
    values = np.array([0.2, 99.0, 0.5])  # the unobserved entry is ignored
    cond = mix.condition(mask, values)
    w = np.asarray(mix.weights, np.float64)
    mu = np.asarray(mix.means, np.float64)
    sd = np.asarray(mix.stds, np.float64)
    lik = np.prod(stats.norm.pdf(values[mask], mu[:, mask], sd[:, mask]), axis=1)
    expected = w * lik / np.sum(w * lik)
    np.testing.assert_allclose(cond.weights, expected, rtol=1e-5)
    np.testing.assert_allclose(cond.means, mu[:, ~mask])
    np.testing.assert_allclose(cond.stds, sd[:, ~mask])
    # values given for the observed coordinates only: the same
    other = mix.condition(mask, values[mask])
    np.testing.assert_allclose(other.weights, cond.weights, rtol=1e-6)
    # p(y_u | y_o) = p(y) / p(y_o): the log-densities agree at a point
    y = np.array([0.2, -0.4, 0.5])
    marginal_o = ss.datasets.GaussianMixture(mix.weights, mu[:, mask], sd[:, mask])
    np.testing.assert_allclose(
        cond.log_prob(y[~mask]),
        mix.log_prob(y) - marginal_o.log_prob(y[mask]),
        rtol=1e-5,
    )


def test_condition_far_away_and_nothing_observed():
    mix = ss.datasets.get("nine-gaussians")
    cond = mix.condition(np.array([True, False]), np.array([40.0]))
    assert np.all(np.asarray(cond.weights) > 0)
    np.testing.assert_allclose(np.asarray(cond.weights)[6:].sum(), 1.0, rtol=1e-6)
    same = mix.condition(np.array([False, False]), np.zeros(2))
    np.testing.assert_allclose(same.weights, mix.weights)


@pytest.mark.parametrize(
    "mask, values, error, match",
    [
        (np.array([True, True]), np.zeros(2), ValueError, "nothing is left"),
        (np.array([True, False, True]), np.zeros(3), ValueError, "shape"),
        (np.array([1, 0]), np.zeros(2), TypeError, "booleans"),
        (np.array([True, False]), np.zeros(3), ValueError, "values"),
        (np.array([True, False]), np.array([np.nan, 0.0]), ValueError, "finite"),
    ],
)
def test_condition_bad_inputs(mask, values, error, match):
    with pytest.raises(error, match=match):
        ss.datasets.get("nine-gaussians").condition(mask, values)


# --- classifier-free guidance ------------------------------------------------


def test_guidance_is_the_tilted_score():
    """With the oracle, (1 + w) s(t, y, k) - w s(t, y) is the gradient of
    (1 + w) log p_t(y | k) - w log p_t(y)."""
    mix = _mix_3d()
    sde = ss.VPSDE()
    score_fn = ss.exact_score(mix, sde)
    y = jnp.array([0.1, 0.4, -0.3])
    for w in (0.0, 0.5, 3.0):
        guided = ss.ClassifierFreeGuidance(score_fn, w)
        for k in range(3):

            def tilted(y):
                return (1 + w) * score_fn.log_prob(0.4, y, k) - w * score_fn.log_prob(
                    0.4, y
                )

            np.testing.assert_allclose(
                guided(0.4, y, k), jax.grad(tilted)(y), rtol=1e-4, atol=1e-6
            )
        np.testing.assert_allclose(guided(0.4, y), score_fn(0.4, y), rtol=1e-6)
    assert ss.ClassifierFreeGuidance(score_fn, 1.0).num_classes == 3
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="guidance"):
            ss.ClassifierFreeGuidance(score_fn, bad)


def test_conditional_sampling_at_w0_follows_the_component():
    """With the oracle and w = 0, samples of class k are exact samples of component
    k: all their mode weight on k, mean mu_k and std 0.25 (up to 200 Euler-Maruyama
    steps' error)."""
    mix = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()
    score_fn = ss.exact_score(mix, sde)
    n = 2000
    sampler = ss.ReverseSDE(num_steps=200)
    for k in (0, 7):
        ys = np.asarray(
            ss.sample(
                jax.random.key(k),
                sde,
                score_fn,
                num_samples=n,
                shape=(2,),
                sampler=sampler,
                labels=k,
            )
        )
        weights = np.asarray(mode_weights(mix, ys))
        assert weights[k] > 0.995, weights
        se = 0.25 / math.sqrt(n)
        np.testing.assert_allclose(ys.mean(0), mix.means[k], atol=5 * se)
        np.testing.assert_allclose(ys.std(0), 0.25, rtol=0.06)
    # one label per sample: each sample lands in its own component
    labels = np.arange(n) % 9
    ys = ss.sample(
        jax.random.key(3),
        sde,
        score_fn,
        num_samples=n,
        shape=(2,),
        sampler=sampler,
        labels=labels,
        chunk_size=700,  # chunks and padding carry the labels along
    )
    own = np.asarray(jax.vmap(mix.responsibilities)(ys))[np.arange(n), labels]
    # (an exact sample lies beyond 4 std towards a neighbour with probability
    # about 1e-4, so a few of 2000 may legitimately sit between components)
    assert own.mean() > 0.995 and np.mean(own > 0.5) > 0.998, np.sort(own)[:5]


@pytest.mark.parametrize(
    "sampler",
    [ss.DPMSolver(num_steps=20), ss.EDMHeun(num_steps=18), ss.PredictorCorrector(50)],
    ids=["dpm-solver", "edm-heun", "predictor-corrector"],
)
def test_labels_with_other_samplers(sampler):
    """Labels reach the score inside every sampler family (few-step solvers and
    the predictor-corrector chain): class-4 and class-8 samples at w = 0."""
    mix = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()
    labels = np.array([4, 8] * 250)
    ys = ss.sample(
        jax.random.key(0),
        sde,
        ss.exact_score(mix, sde),
        num_samples=500,
        shape=(2,),
        sampler=sampler,
        labels=labels,
    )
    own = np.asarray(jax.vmap(mix.responsibilities)(ys))[np.arange(500), labels]
    assert own.mean() > 0.99, own.mean()
    ys = np.asarray(ys)
    for k in (4, 8):
        np.testing.assert_allclose(ys[labels == k].mean(0), mix.means[k], atol=0.06)


def _overlapping_1d():
    return ss.datasets.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [1.0, 1.0])


def test_guidance_is_monotone_towards_the_class():
    """On two overlapping classes, the class purity E[p(1 | y)] of class-1 samples
    grows with the guidance weight, from the exact value at w = 0, and the samples
    move away from the other class."""
    mix = _overlapping_1d()
    sde = ss.VPSDE()
    score_fn = ss.exact_score(mix, sde)
    n = 4000
    exact = mix.sample_with_labels(jax.random.key(9), 200_000)
    exact_purity = float(
        np.mean(np.asarray(jax.vmap(mix.responsibilities)(exact[0]))[exact[1] == 1, 1])
    )
    purity, means = [], []
    for w in (0.0, 1.0, 4.0):
        ys = ss.sample(
            jax.random.key(0),
            sde,
            score_fn,
            num_samples=n,
            shape=(1,),
            sampler=ss.ReverseSDE(num_steps=200),
            labels=1,
            guidance=w,
        )
        purity.append(
            float(np.mean(np.asarray(jax.vmap(mix.responsibilities)(ys))[:, 1]))
        )
        means.append(float(np.mean(ys)))
    # w = 0: the exact purity of component 1 (0.775), within 4 standard errors
    assert abs(purity[0] - exact_purity) < 4 * 0.2 / math.sqrt(n), (
        purity,
        exact_purity,
    )
    assert purity[0] + 0.03 < purity[1] < purity[2] - 0.03, purity
    assert means[0] + 0.1 < means[1] < means[2] - 0.1, means


def _unconditional_model():
    net = ss.nets.MLP((2,), width=8, depth=1, key=jax.random.key(0))
    return ss.ScoreModel(net, ss.VPSDE())


@pytest.mark.parametrize(
    "score, kwargs, error, match",
    [
        ("exact", {"labels": 9}, ValueError, "0..8"),
        ("exact", {"labels": -1}, ValueError, "labels"),
        ("exact", {"labels": np.zeros(3, int)}, ValueError, "shape"),
        ("exact", {"labels": 1.0}, TypeError, "labels"),
        ("exact", {"labels": True}, TypeError, "labels"),
        ("exact", {"labels": 1, "guidance": -1.0}, ValueError, "guidance"),
        ("exact", {"labels": 1, "guidance": float("inf")}, ValueError, "guidance"),
        ("exact", {"guidance": 2.0}, ValueError, "needs `labels`"),
        ("model", {"labels": 1}, ValueError, "unconditional"),
        ("plain", {"labels": 1}, ValueError, "does not take a label"),
    ],
)
def test_sample_bad_labels_and_guidance(score, kwargs, error, match):
    sde = ss.VPSDE()
    score_fn = {
        "exact": ss.exact_score(ss.datasets.get("nine-gaussians"), sde),
        "model": _unconditional_model(),
        "plain": lambda t, y: -y,
    }[score]
    with pytest.raises(error, match=match):
        ss.sample(
            jax.random.key(0),
            sde,
            score_fn,
            num_samples=4,
            shape=(2,),
            sampler=ss.ReverseSDE(num_steps=2),
            **kwargs,
        )


def test_labels_reach_a_class_conditional_model():
    """A ScoreModel with num_classes: the sampled label is the one the network
    sees (two labels give two different results from the same key), and its
    range is checked."""
    sde = ss.VPSDE()
    net = ss.nets.MLP((2,), width=8, depth=1, num_classes=3, key=jax.random.key(0))
    model = ss.ScoreModel(net, sde)
    kw = dict(num_samples=3, shape=(2,), sampler=ss.ReverseSDE(num_steps=3))
    a = ss.sample(jax.random.key(0), sde, model, labels=0, **kw)
    b = ss.sample(jax.random.key(0), sde, model, labels=2, **kw)
    c = ss.sample(jax.random.key(0), sde, model, labels=[0, 0, 0], **kw)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, c)
    g = ss.sample(jax.random.key(0), sde, model, labels=0, guidance=1.5, **kw)
    assert np.all(np.isfinite(g)) and not np.allclose(g, a)
    with pytest.raises(ValueError, match="0..2"):
        ss.sample(jax.random.key(0), sde, model, labels=3, **kw)


# --- imputation ----------------------------------------------------------------

N_IMPUTE = 2000
IMPUTE_SAMPLER = ss.ReverseSDE(num_steps=200)
MASK_X = np.array([True, False])


def _impute_weights(mix, x_obs, method, **kwargs):
    sde = ss.VPSDE()
    observed = np.tile(np.array([x_obs, np.nan]), (N_IMPUTE, 1))
    ys = np.asarray(
        ss.impute(
            jax.random.key(0),
            sde,
            ss.exact_score(mix, sde),
            observed,
            MASK_X,
            sampler=IMPUTE_SAMPLER,
            method=method,
            **kwargs,
        )
    )
    assert np.all(ys[:, 0] == np.float32(x_obs))  # observed entries exactly kept
    assert np.all(np.isfinite(ys))
    cond = mix.condition(MASK_X, [x_obs])
    weights = np.asarray(mode_weights(cond, ys[:, 1:]))
    w1 = ss.metrics.wasserstein_1d(
        ys[:, 1], cond.sample(jax.random.key(1), 20 * N_IMPUTE)
    )
    return weights, np.asarray(cond.weights), w1


@pytest.mark.parametrize("method", ["replacement", "reconstruction"])
def test_impute_nine_gaussians_matches_the_exact_conditional(method):
    """On nine Gaussians x and y are independent given the column, so both methods
    are nearly exact: the weights of y's three modes given x = 2 or x = 1 (between
    two columns) match the exact conditional to 0.03 (measured: <= 0.02)."""
    mix = ss.datasets.get("nine-gaussians")
    for x_obs in (2.0, 1.0):
        got, exact, w1 = _impute_weights(mix, x_obs, method)
        np.testing.assert_allclose(
            got.reshape(3, 3).sum(0), exact.reshape(3, 3).sum(0), atol=0.03
        )
        assert w1 < 0.08, w1


def test_impute_correlated_mixture_bias():
    """Observe x, impute y on a mixture along y = x. Measured here (2000 samples,
    200 Euler-Maruyama steps): replacement keeps too much mass on the modes the
    observation disfavours (largest weight error about 0.16, W1 0.53 at x = 1;
    at x = 2.5 the far mode gets 0.18 instead of 0.02, W1 0.41); reconstruction
    guidance is two to three times closer (W1 0.27 and 0.13). The bounds are
    those numbers with slack, so a regression in either method fails; the
    benchmark (benchmarks/conditional.py) has the 500-step figures."""
    mix = correlated_mixture()
    for x_obs, repl_max, recon_max in ((1.0, 0.7, 0.4), (2.5, 0.6, 0.25)):
        w_rep, exact, w1_rep = _impute_weights(mix, x_obs, "replacement")
        w_rec, _, w1_rec = _impute_weights(mix, x_obs, "reconstruction")
        err_rep = np.abs(w_rep - exact).max()
        err_rec = np.abs(w_rec - exact).max()
        assert w1_rec < recon_max and w1_rep < repl_max, (w1_rec, w1_rep)
        assert err_rec < err_rep and w1_rec < w1_rep
        # replacement's bias is real, not noise: it exceeds 5 standard errors
        assert err_rep > 5 * 0.5 / math.sqrt(N_IMPUTE)


def test_impute_with_a_few_step_sampler():
    """Imputation changes only the score function, so a few-step solver works too:
    DPM-Solver with 20 steps on nine-gaussians given x = 2."""
    mix = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()
    observed = np.tile(np.array([2.0, 0.0]), (1000, 1))
    ys = np.asarray(
        ss.impute(
            jax.random.key(1),
            sde,
            ss.exact_score(mix, sde),
            observed,
            MASK_X,
            sampler=ss.DPMSolver(num_steps=20),
        )
    )
    assert np.all(ys[:, 0] == 2.0)
    cond = mix.condition(MASK_X, [2.0])
    got = np.asarray(mode_weights(cond, ys[:, 1:])).reshape(3, 3).sum(0)
    exact = np.asarray(cond.weights).reshape(3, 3).sum(0)
    np.testing.assert_allclose(got, exact, atol=0.05)


def test_impute_per_row_mask_and_images():
    """A mask per row, and a sample shape with more than one axis."""
    mix = ss.datasets.GaussianMixture([1.0], [[1.0, -1.0, 0.5, 2.0]], [0.5])
    sde = ss.VPSDE()

    def score_fn(t, y):  # (2, 2) samples from the flat oracle
        return ss.exact_score(mix, sde)(t, y.reshape(4)).reshape(2, 2)

    observed = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    mask = np.array(
        [[[True, False], [False, False]], [[False, True], [True, False]]]
        + [[[True, True], [True, False]]]
    )
    ys = np.asarray(
        ss.impute(
            jax.random.key(0),
            sde,
            score_fn,
            observed,
            mask,
            sampler=ss.ReverseSDE(num_steps=20),
        )
    )
    assert ys.shape == (3, 2, 2)
    np.testing.assert_array_equal(ys[mask], observed[mask])
    assert np.all(np.isfinite(ys))


@pytest.mark.parametrize(
    "observed, mask, kwargs, error, match",
    [
        (np.zeros((4, 2)), np.array([True, True]), {}, ValueError, "nothing is left"),
        (np.zeros((4, 2)), np.array([True, False, True]), {}, ValueError, "shape"),
        (np.zeros((4, 2)), np.ones((3, 2), bool), {}, ValueError, "shape"),
        (np.zeros((4, 2)), np.array([1, 0]), {}, TypeError, "booleans"),
        (np.zeros(2), np.array([True, False]), {}, ValueError, "observed"),
        (
            np.array([[np.nan, 0.0]] * 4),
            np.array([True, False]),
            {},
            ValueError,
            "finite",
        ),
        (np.zeros((4, 2)), MASK_X, {"method": "paint"}, ValueError, "method"),
        (
            np.zeros((4, 2)),
            MASK_X,
            {"method": "reconstruction", "reconstruction_weight": -1.0},
            ValueError,
            "reconstruction_weight",
        ),
        (np.zeros((4, 2)), MASK_X, {"sampler": "em"}, TypeError, "sampler"),
        (np.zeros((4, 3)), np.array([True, False, False]), {}, ValueError, "shape"),
    ],
)
def test_impute_bad_inputs(observed, mask, kwargs, error, match):
    sde = ss.VPSDE()
    score_fn = ss.exact_score(ss.datasets.get("nine-gaussians"), sde)
    with pytest.raises(error, match=match):
        ss.impute(jax.random.key(0), sde, score_fn, observed, mask, **kwargs)


# --- the command line ------------------------------------------------------------


def _cli(args, capsys):
    """`scoresde ARGS` in process: (exit code, stdout, stderr)."""
    from scoresde._cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's own one-line usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "error" in lines[0], err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    from scoresde._cli import main

    out = tmp_path_factory.mktemp("cond") / "run"
    tiny = ["--steps", "2", "--batch-size", "16", "--width", "8", "--depth", "1"]
    args = ["train", "--dataset", "nine-gaussians", "--conditional", *tiny]
    assert main([*args, "--label-dropout", "0.2", "--quiet", "--out", str(out)]) == 0
    return out


def test_cli_conditional_train_sample_impute(conditional_run, tmp_path, capsys):
    run = ss.load(conditional_run)
    assert run.model.net.num_classes == 9
    assert run.config["training"]["label_dropout"] == pytest.approx(0.2)
    samples = tmp_path / "s.npy"
    fast = ["--sampler", "reverse-sde", "--steps", "3", "--quiet"]
    code, _, err = _cli(
        [
            "sample",
            conditional_run,
            "--label",
            3,
            "--guidance",
            2.0,
            "--num",
            5,
            *fast,
            "--out",
            samples,
        ],
        capsys,
    )
    assert code == 0, err
    assert np.load(samples).shape == (5, 2)
    obs = np.array([[1.0, np.nan], [np.nan, -2.0]])
    np.save(tmp_path / "obs.npy", obs)
    np.save(tmp_path / "mask.npy", np.array([[True, False], [False, True]]))
    imputed = tmp_path / "imp.npy"
    code, out, err = _cli(
        [
            "impute",
            conditional_run,
            "--data",
            tmp_path / "obs.npy",
            "--mask",
            tmp_path / "mask.npy",
            "--method",
            "reconstruction",
            *fast,
            "--out",
            imputed,
        ],
        capsys,
    )
    assert code == 0, err
    ys = np.load(imputed)
    assert ys[0, 0] == 1.0 and ys[1, 1] == -2.0 and np.all(np.isfinite(ys))


def test_cli_conditional_errors_are_one_line(conditional_run, tmp_path, capsys):
    out = ["--out", tmp_path / "s.npy", "--quiet"]
    cases = [
        (["sample", conditional_run, "--label", 9, *out], ("--label", "0..8")),
        (
            ["sample", conditional_run, "--label", 1, "--guidance", -1, *out],
            ("--guidance",),
        ),
        (
            ["sample", conditional_run, "--guidance", 1, *out],
            ("--guidance needs --label",),
        ),
        (["train", "--dataset", "two-moons", "--conditional", *out], ("labelled",)),
        (
            ["train", "--dataset", "mixture-1d", "--label-dropout", "0.1", *out],
            ("--conditional",),
        ),
    ]
    for args, needles in cases:
        _one_line_error(*_cli(args, capsys)[::2], *needles)
    np.save(tmp_path / "obs.npy", np.zeros((3, 2)))
    bad_masks = {
        "shape.npy": (np.array([True, False, True]), "shape"),
        "full.npy": (np.array([True, True]), "nothing is left"),
        "float.npy": (np.array([0.5, 1.0]), "booleans"),
    }
    for name, (mask, needle) in bad_masks.items():
        np.save(tmp_path / name, mask)
        args = [
            "impute",
            conditional_run,
            "--data",
            tmp_path / "obs.npy",
            "--mask",
            tmp_path / name,
            *out,
        ]
        _one_line_error(*_cli(args, capsys)[::2], needle)
    np.save(tmp_path / "wrong.npy", np.zeros((3, 4)))
    args = [
        "impute",
        conditional_run,
        "--data",
        tmp_path / "wrong.npy",
        "--mask",
        tmp_path / "full.npy",
        *out,
    ]
    _one_line_error(*_cli(args, capsys)[::2], "--data")
