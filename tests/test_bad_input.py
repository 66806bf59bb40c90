"""Bad input, systematically: for the public functions and the command line's flags,
the inputs a user plausibly gets wrong (zero or negative sizes, NaN or inf, wrong
shapes, unknown names, missing or wrong files, out-of-range labels and times) give
a clear error at the boundary that names the argument, what was received and what
is allowed. On the command line that is one line on stderr and a non-zero exit,
never a traceback. Each row fails if its check is removed: the error would then be
a different type, a different message, or none at all.

Kept fast: nothing here compiles a sampler or a network beyond a tiny MLP, and the
command-line rows run in process (`scoresde._cli.main`)."""

import errno
import shutil
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scoresde as ss
from scoresde._cli import main, one_line_warnings


nan, inf = float("nan"), float("inf")
KEY = jax.random.key(0)


def _mix():
    return ss.datasets.get("mixture-1d")


def _model(num_classes=None):
    net = ss.nets.MLP((1,), width=8, depth=1, num_classes=num_classes, key=KEY)
    return ss.ScoreModel(net, ss.VPSDE())


def _sample(key=KEY, num_samples=2, shape=(1,)):
    """`ss.sample` of the 1-D mixture's exact score, with one argument changed."""
    sde = ss.VPSDE()
    return ss.sample(
        key, sde, ss.exact_score(_mix(), sde), num_samples=num_samples, shape=shape
    )


def _batch(n=4, d=1, fill=0.5):
    return np.full((n, d), fill, np.float32)


# (call, error type, needles that the message must contain)
LIBRARY = [
    # SDEs: times outside [0, T], NaN times
    (lambda: ss.VPSDE().marginal(2.0), ValueError, ("`t`", "[0, 1]", "2.0")),
    (lambda: ss.VPSDE().marginal(-0.5), ValueError, ("`t`", "[0, 1]", "-0.5")),
    (lambda: ss.VESDE().marginal(nan), ValueError, ("`t`", "nan")),
    (lambda: ss.SubVPSDE().diffusion(1.5), ValueError, ("`t`", "1.5")),
    (lambda: ss.VPSDE().drift(2.0, jnp.zeros(1)), ValueError, ("`t`", "2.0")),
    (lambda: ss.DDPM.linear(10).marginal(1.01), ValueError, ("`t`", "1.01")),
    (lambda: ss.NCSN.geometric(num_steps=10).diffusion(-1.0), ValueError, ("`t`",)),
    (lambda: ss.VPSDE(beta_min=-1.0), ValueError, ("`beta_min`", "> 0", "-1.0")),
    (lambda: ss.VESDE(sigma_max=inf), ValueError, ("`sigma_max`", "finite")),
    (lambda: ss.DDPM([0.1, 1.5]), ValueError, ("`betas`", "(0, 1)")),
    (lambda: ss.NCSN([3.0, 2.0, 1.0]), ValueError, ("`sigmas`", "ascending")),
    (lambda: ss.VPSDE().prior_sample(KEY, (0,)), ValueError, ("`shape`", "(0,)")),
    # samplers' and solvers' configurations
    (
        lambda: ss.LangevinCorrector(snr=0.0, corrector_steps=1),
        ValueError,
        ("`snr`", "> 0"),
    ),
    (
        lambda: ss.LangevinCorrector(snr=0.1, corrector_steps=-1),
        ValueError,
        ("`corrector_steps`", ">= 0", "-1"),
    ),
    (lambda: ss.ReverseSDE(num_steps=0), ValueError, ("`num_steps`", ">= 1")),
    (lambda: ss.DPMSolver(order=4), ValueError, ("`order`", "4")),
    (lambda: ss.EDMHeun(s_noise=nan), ValueError, ("`s_noise`", "finite")),
    (lambda: ss.ODESolve(rtol=0.0), ValueError, ("`rtol`", "> 0")),
    (lambda: ss.Hutchinson(probe="normal"), ValueError, ("`probe`", "rademacher")),
    # weightings
    (lambda: ss.VWeighting(data_std=0.0), ValueError, ("`data_std`", "> 0", "0.0")),
    # (a wrong type meets the runtime type check first in this suite)
    (lambda: ss.FunctionWeighting(3), TypeError, ("fn", "3")),
    (
        lambda: ss.LikelihoodWeighting(importance_sampling="yes"),
        TypeError,
        ("importance_sampling", "yes"),
    ),
    # the score model: one sample of the network's shape, labels only if
    # conditional and in range
    (
        lambda: _model()(0.5, jnp.zeros(3)),
        ValueError,
        ("`y`", "(1,)", "(3,)", "vmap"),
    ),
    (lambda: _model()(0.5, jnp.zeros(1), 1), ValueError, ("`label`", "unconditional")),
    (
        lambda: _model(num_classes=3)(0.5, jnp.zeros(1), 7),
        ValueError,
        ("`label`", "0..3", "7"),
    ),
    (lambda: _model()(1.5, jnp.zeros(1)), ValueError, ("`t`", "1.5")),
    (
        lambda: ss.ScoreModel(_model().net, ss.VPSDE(), data_std=nan),
        ValueError,
        ("`data_std`",),
    ),
    # the loss
    (
        lambda: ss.dsm_loss(_model(), ss.VPSDE(), KEY, _batch(fill=nan)),
        ValueError,
        ("`y0_batch`", "finite", "4 NaN"),
    ),
    (
        lambda: ss.dsm_loss(_model(), ss.VPSDE(), KEY, _batch(d=3)),
        ValueError,
        ("`y`", "(1,)", "(3,)"),
    ),
    (
        lambda: ss.dsm_loss(
            _model(), ss.VPSDE(), KEY, _batch(), times=np.array([0.1, 0.2, 0.3, 1.5])
        ),
        ValueError,
        ("`times`", "(0, 1]", "1.5"),
    ),
    (
        lambda: ss.dsm_loss(
            _model(), ss.VPSDE(), KEY, _batch(), times=np.zeros(4, np.float32)
        ),
        ValueError,
        ("`times`", "(0, 1]"),
    ),
    (
        lambda: ss.dsm_loss(
            _model(num_classes=3),
            ss.VPSDE(),
            KEY,
            _batch(),
            labels=np.array([0, 1, 2, 7]),
        ),
        ValueError,
        ("`labels`", "0..3", "7"),
    ),
    (
        lambda: ss.dsm_loss(_model(), ss.VPSDE(), KEY, _batch(), labels=np.arange(4)),
        ValueError,
        ("`label`", "unconditional"),
    ),
    (
        lambda: ss.dsm_loss(_model(), ss.VPSDE(), KEY, _batch(), weighting="snr"),
        ValueError,
        ("`weighting`", "'snr'", "likelihood"),
    ),
    # the optimiser
    (
        lambda: ss.default_optimizer(nan, 10, 2),
        ValueError,
        ("`learning_rate`", "finite"),
    ),
    (lambda: ss.default_optimizer(1e-3, 0, 0), ValueError, ("`steps`", ">= 1", "0")),
    (lambda: ss.default_optimizer(1e-3, 10, -1), ValueError, ("`warmup_steps`",)),
    (
        lambda: ss.default_optimizer(1e-3, 10, 2, weight_decay=-0.1),
        ValueError,
        ("`weight_decay`", "-0.1"),
    ),
    (
        lambda: ss.default_optimizer(1e-3, 10, 2, max_grad_norm=0.0),
        ValueError,
        ("`max_grad_norm`", "> 0"),
    ),
    # keys, samples, likelihoods (all rejected before anything compiles)
    (
        lambda: _sample(key=jax.random.split(KEY, 2)),
        ValueError,
        ("`key`", "ONE PRNG key", "(2,)"),
    ),
    (
        lambda: _sample(key=np.zeros(3, np.float32)),
        TypeError,
        ("`key`", "jax.random.key", "float32"),
    ),
    (
        lambda: _sample(num_samples=0),
        ValueError,
        ("`num_samples`", ">= 1", "0"),
    ),
    (
        lambda: _sample(shape=(2,)),
        ValueError,
        ("`shape`", "(2,)", "(1,)"),
    ),
    (
        lambda: ss.log_likelihood(
            KEY, ss.VPSDE(), ss.exact_score(_mix(), ss.VPSDE()), _batch(fill=nan)
        ),
        ValueError,
        ("`ys`", "finite"),
    ),
    (
        lambda: ss.log_likelihood(
            np.zeros(2, np.int32),
            ss.VPSDE(),
            ss.exact_score(_mix(), ss.VPSDE()),
            _batch(),
        ),
        TypeError,
        ("`key`", "jax.random.key", "int32"),
    ),
    (
        lambda: ss.impute(
            jax.random.split(KEY, 3),
            ss.VPSDE(),
            ss.exact_score(ss.datasets.get("nine-gaussians"), ss.VPSDE()),
            _batch(d=2),
            np.array([True, False]),
        ),
        ValueError,
        ("`key`", "ONE PRNG key"),
    ),
    # the exact oracle: one sample of the mixture's dimension
    (lambda: _mix().log_prob(jnp.zeros(2)), ValueError, ("`y`", "(1,)", "(2,)")),
    (lambda: _mix().score(jnp.zeros(3)), ValueError, ("`y`", "(1,)", "(3,)")),
    (
        lambda: ss.exact_score(_mix(), ss.VPSDE())(0.5, jnp.zeros(2)),
        ValueError,
        ("`y`", "(1,)", "(2,)"),
    ),
    (lambda: _mix().marginal(ss.VPSDE(), 2.0), ValueError, ("`t`", "2.0")),
    (lambda: _mix().sample(KEY, 0), ValueError, ("`n`", ">= 1")),
    (lambda: ss.datasets.get("mnist"), ValueError, ("'mnist'", "nine-gaussians")),
    (
        lambda: ss.datasets.ArrayDataset(np.array([[nan]])),
        ValueError,
        ("`data`", "finite"),
    ),
    # metrics: empty or non-finite samples
    (
        lambda: ss.metrics.mode_weights(_mix(), np.zeros((0, 1))),
        ValueError,
        ("`ys`", "n >= 1", "(0, 1)"),
    ),
    (
        lambda: ss.metrics.mode_weights(_mix(), _batch(fill=nan)),
        ValueError,
        ("`ys`", "finite", "4 NaN"),
    ),
    (
        lambda: ss.metrics.wasserstein_1d(np.array([nan, 1.0]), np.zeros(3)),
        ValueError,
        ("`xs`", "finite"),
    ),
    (
        lambda: ss.metrics.sliced_wasserstein(
            KEY, np.array([[inf, 0.0], [0.0, 0.0]]), np.zeros((3, 2))
        ),
        ValueError,
        ("`xs`", "finite"),
    ),
    # networks
    (
        lambda: ss.nets.LabelEmbedding(0, 4, key=KEY),
        ValueError,
        ("`num_classes`", ">= 1"),
    ),
    (lambda: ss.nets.sinusoidal_embedding(0.5, 0), ValueError, ("`dim`", ">= 2", "0")),
    (lambda: ss.nets.MLP((2,), width=0, key=KEY), ValueError, ("`width`", ">= 1")),
    (
        lambda: ss.nets.UNet(
            (1, 8, 8), channels=(4, 4), num_heads=3, attention_levels=(0,), key=KEY
        ),
        ValueError,
        ("`num_heads`", "3"),
    ),
    # plotting
    (
        lambda: ss.plotting.plot_samples(np.zeros((4, 2)), reference=np.zeros((4, 1))),
        ValueError,
        ("`reference`", "(m, 2)", "(4, 1)"),
    ),
    (lambda: ss.plotting.plot_loss(np.zeros(0)), ValueError, ("`losses`", "empty")),
]


@pytest.mark.parametrize(
    "call, error, needles",
    LIBRARY,
    ids=[f"{i}-{row[2][0].strip('`')}" for i, row in enumerate(LIBRARY)],
)
def test_library_rejects_bad_input_clearly(call, error, needles):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, message


def test_checks_do_not_reject_good_input():
    # The boundary checks pass the edges of what is allowed.
    vp = ss.VPSDE()
    for t in (0.0, 1.0, np.float32(0.5), jnp.asarray(1.0)):
        vp.marginal(t)
    model = _model(num_classes=3)
    model(0.5, jnp.zeros(1), 3)  # the null label
    model(0.5, jnp.zeros(1), None)
    jax.jit(lambda t: vp.marginal(t))(2.0)  # traced times are not checked
    ss.dsm_loss(model, vp, KEY, _batch(), labels=np.array([0, 1, 2, 3]))
    ss.dsm_loss(_model(), vp, KEY, _batch(), times=np.full(4, 1.0, np.float32))
    ss.nets.sinusoidal_embedding(0.5, 3)
    ss.LangevinCorrector(snr=0.1, corrector_steps=0)
    ss.default_optimizer(1e-3, 10, 20)  # warmup longer than the run is allowed
    legacy = jax.random.PRNGKey(0)
    ss.sample(
        legacy,
        vp,
        ss.exact_score(_mix(), vp),
        num_samples=2,
        shape=(1,),
        sampler=ss.DDIM(num_steps=2),
    )


# ------------------------------------------------------------------ command line
def _cli(args, capsys):
    """Run the command line in process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_one_line_error(code, err, needles):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code not in (0, None), err
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "error" in lines[0], err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "scalar.npy", np.float32(3.0))
    np.save(tmp_path / "s2.npy", np.zeros((4, 2), np.float32))
    np.save(tmp_path / "s3.npy", np.zeros((4, 3), np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 1), np.float32))
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    np.save(tmp_path / "nan.npy", np.array([[1.0], [nan]], np.float32))
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 1)), b=np.zeros((3, 1)))
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-dir").mkdir()
    return tmp_path


T = ["train", "--dataset", "mixture-1d"]
# Rows checked before any run directory is read (flags and files first), so the
# run directory may be missing: "{tmp}/no-run".
CLI = [
    # numbers out of range
    ([*T, "--steps", "0", "--out", "{tmp}/r"], ("--steps", "positive integer", "0")),
    ([*T, "--batch-size", "-4", "--out", "{tmp}/r"], ("--batch-size", "-4")),
    ([*T, "--lr", "inf", "--out", "{tmp}/r"], ("--lr", "finite", "inf")),
    ([*T, "--lr", "nan", "--out", "{tmp}/r"], ("--lr", "nan")),
    ([*T, "--ema-decay", "1", "--out", "{tmp}/r"], ("--ema-decay", "[0, 1)")),
    ([*T, "--checkpoint-every", "0", "--out", "{tmp}/r"], ("--checkpoint-every",)),
    ([*T, "--seed", "-1", "--out", "{tmp}/r"], ("--seed", ">= 0", "-1")),
    ([*T, "--width", "0", "--out", "{tmp}/r"], ("--width", "0")),
    ([*T, "--channels", "8,x", "--out", "{tmp}/r"], ("--channels", "8,x")),
    ([*T, "--beta-min", "nan", "--out", "{tmp}/r"], ("--beta-min", "nan")),
    (
        [*T, "--beta-min", "30", "--beta-max", "1", "--out", "{tmp}/r"],
        ("beta_min", "beta_max"),
    ),
    ([*T, "--sde", "cosine", "--cosine-t-max", "2", "--out", "{tmp}/r"], ("t_max",)),
    ([*T, "--sde", "ddpm", "--beta-end", "2", "--out", "{tmp}/r"], ("beta_end",)),
    (
        [*T, "--conditional", "--label-dropout", "1.5", "--out", "{tmp}/r"],
        ("--label-dropout", "1.5"),
    ),
    # unknown names and flags that do not apply
    ([*T, "--sde", "xyz", "--out", "{tmp}/r"], ("--sde", "xyz", "vp")),
    ([*T, "--weighting", "snr", "--out", "{tmp}/r"], ("--weighting", "snr")),
    ([*T, "--net", "unet", "--out", "{tmp}/r"], ("--net unet", "(C, H, W)")),
    ([*T, "--channels", "8", "--out", "{tmp}/r"], ("--channels", "does not apply")),
    ([*T, "--label-dropout", "0.1", "--out", "{tmp}/r"], ("--conditional",)),
    (["train", "--dataset", "mnist", "--out", "{tmp}/r"], ("mnist", "digits")),
    # data files
    (
        ["train", "--data", "{tmp}/scalar.npy", "--out", "{tmp}/r"],
        ("scalar.npy", "single"),
    ),
    (
        ["train", "--data", "{tmp}/empty.npy", "--out", "{tmp}/r"],
        ("empty.npy", "no samples"),
    ),
    (
        ["train", "--data", "{tmp}/strings.npy", "--out", "{tmp}/r"],
        ("strings.npy", "numeric"),
    ),
    (["train", "--data", "{tmp}/nan.npy", "--out", "{tmp}/r"], ("nan.npy", "NaN")),
    (
        ["train", "--data", "{tmp}/two.npz", "--out", "{tmp}/r"],
        ("two.npz", "--data-key"),
    ),
    (
        ["train", "--data", "{tmp}/two.npz", "--data-key", "c", "--out", "{tmp}/r"],
        ("two.npz", "'c'"),
    ),
    (
        ["train", "--data", "{tmp}/none.npy", "--out", "{tmp}/r"],
        ("none.npy", "does not exist"),
    ),
    (
        ["train", "--data", "{tmp}/s2.npy", "--conditional", "--out", "{tmp}/r"],
        ("--conditional", "labelled"),
    ),
    # output paths
    ([*T, "--out", "{tmp}/a-file"], ("--out", "a-file", "not a run directory")),
    ([*T, "--out", "{tmp}/a-file/run"], ("a-file/run", "is not a directory")),
    (
        ["sample", "{tmp}/no-run", "--out", "{tmp}/a-dir"],
        ("--out", "a-dir", "directory"),
    ),
    (
        ["sample", "{tmp}/no-run", "--out", "{tmp}/a-file/s.npy"],
        ("--out", "a-file", "cannot create its folder"),
    ),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--out",
            "{tmp}/s.npy",
            "--plot",
            "{tmp}/a-file/p.png",
        ],
        ("--plot", "a-file"),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--out",
            "{tmp}/a-dir",
        ],
        ("--out", "a-dir"),
    ),
    (
        [
            "impute",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--mask",
            "{tmp}/s2.npy",
            "--out",
            "{tmp}/a-dir",
        ],
        ("--out", "a-dir"),
    ),
    (
        ["plot", "--samples", "{tmp}/s2.npy", "--out", "{tmp}/a-file/p.png"],
        ("--out", "a-file"),
    ),
    # sample / likelihood flags
    (["sample", "{tmp}/no-run", "--num", "0", "--out", "{tmp}/s.npy"], ("--num", "0")),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "ddim",
            "--eta",
            "nan",
            "--out",
            "{tmp}/s",
        ],
        ("--eta", "nan"),
    ),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "dpm-solver",
            "--order",
            "7",
            "--out",
            "{tmp}/s",
        ],
        ("order", "7"),
    ),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "pf-ode",
            "--steps",
            "10",
            "--out",
            "{tmp}/s",
        ],
        ("--steps", "does not apply", "pf-ode"),
    ),
    (
        ["sample", "{tmp}/no-run", "--label", "-1", "--out", "{tmp}/s"],
        ("--label", "-1"),
    ),
    (
        ["sample", "{tmp}/no-run", "--guidance", "-2", "--out", "{tmp}/s"],
        ("--guidance",),
    ),
    (["sample", "{tmp}/no-run", "--out", "{tmp}/s.npy"], ("no-run", "does not exist")),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--num-probes",
            "0",
            "--out",
            "{tmp}/l",
        ],
        ("--num-probes",),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--rtol",
            "nan",
            "--out",
            "{tmp}/l",
        ],
        ("--rtol", "nan"),
    ),
    # the remaining flags, each with a value it must refuse
    ([*T, "--depth", "-1", "--out", "{tmp}/r"], ("--depth", "-1")),
    ([*T, "--parameterization", "eps2", "--out", "{tmp}/r"], ("--parameterization",)),
    ([*T, "--sde", "ddpm", "--num-levels", "0", "--out", "{tmp}/r"], ("--num-levels",)),
    ([*T, "--sde", "ve", "--sigma-min", "0", "--out", "{tmp}/r"], ("--sigma-min",)),
    ([*T, "--sde", "cosine", "--cosine-s", "nan", "--out", "{tmp}/r"], ("--cosine-s",)),
    (
        [*T, "--sde", "ddpm", "--beta-start", "-1", "--out", "{tmp}/r"],
        ("--beta-start",),
    ),
    ([*T, "--net", "transformer", "--out", "{tmp}/r"], ("--net", "transformer")),
    (
        ["train", "--data", "{tmp}/s2.npy", "--data-key", "x", "--out", "{tmp}/r"],
        ("--data-key", ".npz", "s2.npy"),
    ),
    (["train", "--dataset", "mixture-1d"], ("--out",)),
    (
        ["sample", "{tmp}/no-run", "--sampler", "euler", "--out", "{tmp}/s"],
        ("--sampler",),
    ),
    (["sample", "{tmp}/no-run", "--seed", "x", "--out", "{tmp}/s"], ("--seed", "'x'")),
    (["sample", "{tmp}/no-run", "--rtol", "0", "--out", "{tmp}/s"], ("--rtol", "0")),
    (["sample", "{tmp}/no-run", "--atol", "-1", "--out", "{tmp}/s"], ("--atol",)),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "reverse-sde",
            "--steps",
            "0",
            "--out",
            "{tmp}/s",
        ],
        ("--steps", "0"),
    ),
    (
        ["sample", "{tmp}/no-run", "--sampler", "pc", "--snr", "0", "--out", "{tmp}/s"],
        ("--snr",),
    ),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "annealed-langevin",
            "--step-size",
            "inf",
            "--out",
            "{tmp}/s",
        ],
        ("--step-size", "inf"),
    ),
    (
        [
            "sample",
            "{tmp}/no-run",
            "--sampler",
            "edm-heun",
            "--churn",
            "-1",
            "--out",
            "{tmp}/s",
        ],
        ("--churn", "-1"),
    ),
    (["sample", "{tmp}/no-run"], ("--out",)),
    (
        [
            "impute",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--mask",
            "{tmp}/s2.npy",
            "--method",
            "inpaint",
            "--out",
            "{tmp}/i",
        ],
        ("--method", "inpaint"),
    ),
    (
        [
            "impute",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--mask",
            "{tmp}/s2.npy",
            "--sampler",
            "pf-ode",
            "--snr",
            "1",
            "--out",
            "{tmp}/i",
        ],
        ("--snr", "does not apply"),
    ),
    (
        ["impute", "{tmp}/no-run", "--data", "{tmp}/s2.npy", "--out", "{tmp}/i"],
        ("--mask",),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--divergence",
            "trace",
            "--out",
            "{tmp}/l",
        ],
        ("--divergence", "trace"),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--atol",
            "0",
            "--out",
            "{tmp}/l",
        ],
        ("--atol",),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--seed",
            "-3",
            "--out",
            "{tmp}/l",
        ],
        ("--seed", "-3"),
    ),
    (
        [
            "likelihood",
            "{tmp}/no-run",
            "--data",
            "{tmp}/s2.npy",
            "--bits-per-dim",
            "--num-levels",
            "1",
            "--out",
            "{tmp}/l",
        ],
        ("--num-levels", ">= 2", "1"),
    ),
    (["likelihood", "{tmp}/no-run", "--out", "{tmp}/l"], ("--data",)),
    (["plot", "--what", "histogram", "--out", "{tmp}/p.png"], ("--what", "histogram")),
    (
        ["plot", "--samples", "{tmp}/none.npy", "--out", "{tmp}/p.png"],
        ("none.npy", "does not exist"),
    ),
    (["demo", "--out", "{tmp}/a-file"], ("a-file",)),
    # plot
    (
        [
            "plot",
            "--samples",
            "{tmp}/s2.npy",
            "--dataset",
            "mnist",
            "--out",
            "{tmp}/p.png",
        ],
        ("mnist", "nine-gaussians"),
    ),
    (
        [
            "plot",
            "--samples",
            "{tmp}/s2.npy",
            "--dataset",
            "mixture-1d",
            "--out",
            "{tmp}/p.png",
        ],
        ("(2,)", "mixture-1d", "(1,)"),
    ),
    (["plot", "--samples", "{tmp}/s3.npy", "--out", "{tmp}/p.png"], ("1-D or 2-D",)),
    (["plot", "--what", "loss", "--out", "{tmp}/p.png"], ("RUN_DIR",)),
    (["demo", "--seed", "abc", "--out", "{tmp}/d"], ("--seed", "abc")),
]


@pytest.mark.parametrize(
    "args, needles",
    CLI,
    ids=[f"{i}-{row[0][0]}-{row[1][0]}" for i, row in enumerate(CLI)],
)
def test_command_line_rejects_bad_input_in_one_line(args, needles, files, capsys):
    args = [a.replace("{tmp}", str(files)) for a in args]
    code, _, err = _cli(args, capsys)
    _assert_one_line_error(code, err, needles)


def test_warnings_are_one_line(capsys):
    with one_line_warnings("train"):
        warnings.warn("first line\nsecond line")
    err = capsys.readouterr().err
    assert err == "scoresde train: warning: first line second line\n"


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A tiny run directory with `checkpoint.eqx` (step 4) and
    `checkpoint.prev.eqx` (step 2)."""
    out = tmp_path_factory.mktemp("bad-input") / "run"
    tiny = ["--batch-size", "8", "--width", "8", "--depth", "1", "--quiet"]
    args = [*T, "--steps", "4", "--checkpoint-every", "2", *tiny, "--out", str(out)]
    assert main(args) == 0
    assert ss.load(out).step == 4
    return out, args


def test_resume_fallback_warning_is_one_line(two_checkpoints, tmp_path, capsys):
    # A damaged newest checkpoint: resuming falls back to the previous one and
    # says so in ONE line (Python's default prints two: the source line too).
    source, args = two_checkpoints
    run = tmp_path / "run"
    shutil.copytree(source, run)
    data = bytearray((run / "checkpoint.eqx").read_bytes())
    (run / "checkpoint.eqx").write_bytes(bytes(data[: len(data) // 2]))
    capsys.readouterr()
    args = [str(run) if a == str(source) else a for a in args]
    args[args.index("--steps") + 1] = "6"
    code, _, err = _cli(args, capsys)
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("scoresde train: warning: ")
    assert "checkpoint.prev.eqx (step 2)" in lines[0]
    assert ss.load(run).step == 6


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_disk_names_the_path_and_keeps_the_checkpoint(
    two_checkpoints, tmp_path, capsys, monkeypatch, code
):
    # A disk that fills (or turns read-only) under a running CLI: one line naming
    # the file it could not write; the old checkpoints stay intact and loadable.
    # (Simulated: this suite may run as root, whom a read-only chmod does not stop.)
    import os

    from scoresde import _files

    source, args = two_checkpoints
    run = tmp_path / "run"
    shutil.copytree(source, run)
    before = {p.name: p.read_bytes() for p in run.glob("checkpoint*.eqx")}
    real_mkstemp = _files.tempfile.mkstemp

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_files.tempfile, "mkstemp", refuse)
    args = [str(run) if a == str(source) else a for a in args]
    args[args.index("--steps") + 1] = "8"
    exit_code, _, err = _cli(args, capsys)
    monkeypatch.setattr(_files.tempfile, "mkstemp", real_mkstemp)
    _assert_one_line_error(exit_code, err, (str(run), os.strerror(code)))
    assert {p.name: p.read_bytes() for p in run.glob("checkpoint*.eqx")} == before
    assert ss.load(run).step == 4
    assert not list(run.glob("*.tmp"))
