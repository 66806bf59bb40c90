"""The command line end to end at tiny settings, and every error path: one line on
stderr, a non-zero exit, no traceback."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from scoresde._cli import main


def _run(*args, timeout=900, env=None):
    return subprocess.run(
        [sys.executable, "-m", "scoresde._cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )


def _assert_one_line_error(res, *needles):
    assert res.returncode != 0, res.stdout
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{res.stderr}"
    assert "error" in lines[0], res.stderr
    for needle in needles:
        assert needle in res.stderr, res.stderr


TINY = [
    "--steps",
    "30",
    "--batch-size",
    "32",
    "--width",
    "8",
    "--depth",
    "1",
    "--quiet",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mixture-1d",
                "--sde",
                "vp",
                "--seed",
                "3",
                "--out",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    return out


def test_train_writes_a_loadable_run(run_dir):
    import scoresde as ss

    run = ss.load(run_dir)
    assert run.step == 30 and run.losses.shape == (30,)
    assert isinstance(run.sde, ss.VPSDE)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["source"]["dataset"] == "mixture-1d"


def test_train_resumes_to_more_steps(run_dir, tmp_path):
    import shutil

    import scoresde as ss

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    args = [
        "train",
        "--dataset",
        "mixture-1d",
        "--sde",
        "vp",
        "--seed",
        "3",
        "--out",
        str(copy),
        *TINY,
    ]
    args[args.index("--steps") + 1] = "40"
    assert main(args) == 0
    assert ss.load(copy).step == 40


def test_sample_likelihood_plot(run_dir, tmp_path, capsys):
    samples = tmp_path / "s.npy"
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--sampler",
                "reverse-sde",
                "--steps",
                "10",
                "--num",
                "50",
                "--out",
                str(samples),
                "--plot",
                str(tmp_path / "s.png"),
                "--quiet",
            ]
        )
        == 0
    )
    ys = np.load(samples)
    assert ys.shape == (50, 1) and np.all(np.isfinite(ys))
    assert (tmp_path / "s.png").stat().st_size > 5000
    logp = tmp_path / "logp.npy"
    assert (
        main(["likelihood", str(run_dir), "--data", str(samples), "--out", str(logp)])
        == 0
    )
    out = capsys.readouterr().out
    assert "mean NLL" in out and "exact NLL" in out
    assert np.load(logp).shape == (50,)
    assert (
        main(
            [
                "plot",
                str(run_dir),
                "--what",
                "loss",
                "--out",
                str(tmp_path / "loss.png"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "plot",
                "--samples",
                str(samples),
                "--dataset",
                "mixture-1d",
                "--out",
                str(tmp_path / "p.png"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "sampler, flags, nfe",
    [
        ("dpm-solver", ["--steps", "6", "--order", "3"], 6),
        ("edm-heun", ["--steps", "4", "--churn", "0.5"], 7),
        ("ddim", ["--steps", "5", "--eta", "1"], 5),
    ],
)
def test_few_step_samplers_from_the_command_line(
    run_dir, tmp_path, capsys, sampler, flags, nfe
):
    # The registry's flags reach the sampler: the printed NFE is the sampler's
    # exact count for these steps (EDM's Heun: 2 N - 1).
    samples = tmp_path / "s.npy"
    args = ["sample", str(run_dir), "--sampler", sampler, *flags]
    assert main([*args, "--num", "20", "--out", str(samples), "--quiet"]) == 0
    assert f"({nfe} score evaluations per sample)" in capsys.readouterr().out
    ys = np.load(samples)
    assert ys.shape == (20, 1) and np.all(np.isfinite(ys))


def test_second_sample_reads_the_sampler_from_the_compile_cache(run_dir, tmp_path):
    # A few-step sampler runs without host callbacks (no progress bar, runtime
    # checks as NaNs), so JAX's persistent cache keeps its compiled program and a
    # second identical command compiles nothing new.
    cache = tmp_path / "cache"
    env = {"SCORESDE_CACHE_DIR": str(cache)}
    args = ["sample", run_dir, "--sampler", "dpm-solver", "--steps", "4", "--num", 20]
    first = _run(*args, "--out", tmp_path / "a.npy", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("drawing 20 samples with --sampler dpm-solver")

    def sampler_entries():
        return sorted(p.name for p in cache.glob("jit__sample_chunk*"))

    entries = sampler_entries()
    assert len(entries) == 1, sorted(p.name for p in cache.iterdir())
    second = _run(*args, "--out", tmp_path / "b.npy", env=env)
    assert second.returncode == 0, second.stderr
    assert sampler_entries() == entries  # read, not compiled again
    np.testing.assert_array_equal(
        np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    )


def test_sampler_without_checks_has_no_host_callbacks():
    import jax

    import scoresde as ss
    from scoresde._nonfinite import check_finite_score
    from scoresde._runtime_checks import without_runtime_checks
    from scoresde._sample import _sample_chunk

    mix, sde = ss.datasets.get("mixture-1d"), ss.VPSDE()
    score = check_finite_score(ss.exact_score(mix, sde), T=1.0)
    keys = jax.random.split(jax.random.key(0), 4)
    args = (sde, score, keys, None, (1,), 1e-3, None, False, None)
    for sampler in (ss.DPMSolver(3), ss.EDMHeun(3), ss.ProbabilityFlowODE()):
        before = _sample_chunk.lower(sampler, *args).as_text()
        with without_runtime_checks():
            unchecked = _sample_chunk.lower(sampler, *args).as_text()
        after = _sample_chunk.lower(sampler, *args).as_text()
        # The non-finite score check and Diffrax's checks, before and after.
        assert "callback" in before and "callback" in after
        assert "callback" not in unchecked, type(sampler).__name__


def test_non_finite_sample_reruns_with_checks_for_the_message(
    run_dir, tmp_path, monkeypatch, capsys
):
    # The fast (unchecked) draw gives NaNs for a score that is NaN below t = 0.5;
    # the command then draws again with the checks and reports where.
    import jax.numpy as jnp

    from scoresde._cli import sample as sample_cmd

    real = sample_cmd.load_run

    class NaNBelowHalf:
        def __init__(self, run):
            self.run = run
            self.sde, self.config, self.model = run.sde, run.config, run.model

        def score(self, t, y, *rest):
            return jnp.where(t < 0.5, jnp.nan, self.run.score(t, y, *rest))

    def load_nan(path):
        run, info = real(path)
        return NaNBelowHalf(run), info

    monkeypatch.setattr(sample_cmd, "load_run", load_nan)
    out = tmp_path / "s.npy"
    args = ["sample", str(run_dir), "--sampler", "ddim", "--steps", "4", "--num", "8"]
    assert main([*args, "--out", str(out), "--quiet"]) != 0
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NaN or inf at t = " in err[0], err
    t = float(err[0].split("NaN or inf at t = ")[1].split()[0].rstrip(",.:;"))
    assert 0 < t < 0.5, err


def test_train_on_own_array(tmp_path):
    import scoresde as ss

    data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    np.savez(tmp_path / "mine.npz", points=data)
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "mine.npz"),
                "--sde",
                "ve",
                "--sigma-max",
                "5",
                "--out",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    assert tuple(ss.load(out).config["data_shape"]) == (2,)


def test_demo_quick_writes_report_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick"]) == 0
    # Progress: one timed line per step on stderr, ending with the report.
    progress = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("[") and " s] " in line for line in progress)
    assert any("training NCSN" in line for line in progress), progress
    assert progress[-1].endswith("report.md")
    report = (out / "report.md").read_text()
    figures = [
        "forward_vp.png",
        "schedules.png",
        "figure2_vp.png",
        "mixture1d_samples.png",
        "mixture1d_weights.png",
        "reverse_vp.png",
        "nine_ncsn.png",
        "nine_ddpm.png",
        "nine_subvp.png",
    ]
    for fig in figures:
        assert (out / fig).stat().st_size > 10_000, fig
        assert f"]({fig})" in report, fig
    assert "| mixture-1d |" in report and "| nine-gaussians |" in report


def test_interrupted_demo_keeps_the_finished_sections(tmp_path, monkeypatch):
    import scoresde._demo as demo
    from scoresde._demo._common import Row

    row = Row("mixture-1d", "m", "s", 1, 0.0, 0.0, "W1", 0.0, None, None, None)
    monkeypatch.setattr(demo, "section_forward", lambda out, key, cfg: ["forward"])
    monkeypatch.setattr(
        demo, "section_mixture_1d", lambda out, key, cfg, log: (["mixture"], [row])
    )

    def interrupted(out, key, cfg, log):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "section_nine_gaussians", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.run_demo(tmp_path, quick=True)
    report = (tmp_path / "report.md").read_text()
    assert "| mixture-1d | m | s |" in report and "mixture" in report.splitlines()
    assert "Unfinished: the demo stopped after" in report


def test_choices_come_from_the_registries():
    # One source of truth: every registered SDE, network, weighting and sampler is
    # a command-line choice, and nothing else is.
    import argparse

    from scoresde._cli import build_parser
    from scoresde._model import PARAMETERIZATIONS
    from scoresde._samplers.registry import SAMPLERS
    from scoresde._sde.registry import SDES
    from scoresde._weighting import WEIGHTINGS
    from scoresde.nets._registry import NETS

    sub = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )

    def choices(command, dest):
        parser = sub.choices[command]
        return tuple(next(a for a in parser._actions if a.dest == dest).choices)

    assert choices("train", "sde") == SDES.names and "cosine" in SDES.names
    assert choices("train", "net") == NETS.names
    assert choices("train", "weighting") == WEIGHTINGS.names
    assert choices("train", "parameterization") == PARAMETERIZATIONS
    assert choices("sample", "sampler") == SAMPLERS.names


def test_help_for_every_subcommand():
    res = _run("--help")
    assert res.returncode == 0
    for cmd in ("train", "sample", "likelihood", "plot", "demo"):
        assert cmd in res.stdout
        sub = _run(cmd, "--help")
        assert sub.returncode == 0 and "example" in sub.stdout, cmd


@pytest.mark.parametrize(
    "args, needles",
    [
        ([], ("required", "COMMAND")),
        (["frobnicate"], ("frobnicate",)),
        (
            ["train", "--dataset", "mixture-1d", "--sigma-max", "3", "--out", "x"],
            ("--sigma-max", "does not apply", "vp"),
        ),
        (
            [
                "sample",
                "no-such-run",
                "--sampler",
                "pf-ode",
                "--snr",
                "1",
                "--out",
                "s",
            ],
            ("--snr", "does not apply", "pf-ode"),
        ),
        (["train", "--dataset", "mnist", "--out", "x"], ("mnist", "nine-gaussians")),
        (["train", "--out", "x"], ("--dataset",)),
        (
            ["train", "--dataset", "mixture-1d", "--steps", "-5", "--out", "x"],
            ("--steps",),
        ),
        (["train", "--dataset", "mixture-1d", "--lr", "nan", "--out", "x"], ("--lr",)),
        (
            ["train", "--dataset", "mixture-1d", "--sde", "xyz", "--out", "x"],
            ("--sde",),
        ),
        (
            [
                "train",
                "--dataset",
                "mixture-1d",
                "--sde",
                "ve",
                "--sigma-min",
                "100",
                "--sigma-max",
                "1",
                "--out",
                "x",
            ],
            ("sigma_min",),
        ),
        (
            ["train", "--data", "does-not-exist.npy", "--out", "x"],
            ("does-not-exist.npy",),
        ),
        (["train", "--dataset", "digits", "--net", "mlp", "--out", "x"], ("unet",)),
        (["sample", "no-such-run", "--out", "s.npy"], ("no-such-run",)),
        (["sample", "no-such-run", "--num", "0", "--out", "s.npy"], ("--num",)),
        (["demo"], ("--out",)),
        (["demo", "--out", "x", "--seed", "abc"], ("--seed",)),
    ],
)
def test_bad_input_is_one_line(args, needles, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "scoresde._cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    _assert_one_line_error(res, *needles)


def test_bad_files_are_one_line(run_dir, tmp_path):
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not a numpy file")
    _assert_one_line_error(
        _run("train", "--data", garbage, "--out", tmp_path / "r"), "garbage.npy"
    )
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 3), np.float32))
    _assert_one_line_error(
        _run("likelihood", run_dir, "--data", wrong, "--out", tmp_path / "l.npy"),
        "shape",
    )
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0], [np.nan]], np.float32))
    _assert_one_line_error(
        _run("likelihood", run_dir, "--data", nan, "--out", tmp_path / "l.npy"), "NaN"
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _assert_one_line_error(
        _run("sample", broken, "--out", tmp_path / "s.npy"), "config.json"
    )


@pytest.mark.slow
def test_digits_train_sample_and_held_out_bits_per_dim(tmp_path, capsys):
    # The image path end to end at toy size: digits train on their train split,
    # samples plot as an image grid, and bits/dim of raw test pixels is printed
    # beside the uniform bound log2(17) and the per-pixel Gaussian baseline.
    import scoresde as ss

    run = tmp_path / "digits"
    train = ["train", "--dataset", "digits", "--channels", "8,8", "--steps", "2"]
    assert main([*train, "--batch-size", "8", "--quiet", "--out", str(run)]) == 0
    from scoresde._rundir import read_source

    assert read_source(run)["split"] == "train"
    grid = tmp_path / "grid.png"
    sample = ["sample", str(run), "--sampler", "dpm-solver", "--steps", "3"]
    assert (
        main(
            [
                *sample,
                "--num",
                "4",
                "--out",
                str(tmp_path / "s.npy"),
                "--plot",
                str(grid),
                "--quiet",
            ]
        )
        == 0
    )
    assert grid.stat().st_size > 2000
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, np.asarray(ss.datasets.get("digits", split="test").pixels[:3]))
    capsys.readouterr()
    likelihood = ["likelihood", str(run), "--data", str(pixels), "--bits-per-dim"]
    tol = ["--rtol", "1e-2", "--atol", "1e-2", "--divergence", "hutchinson"]
    assert main([*likelihood, *tol, "--out", str(tmp_path / "bpd.npy")]) == 0
    out = capsys.readouterr().out
    assert "bits/dim (dequantised, K = 17)" in out and "4.0875 bits/dim" in out
    bpd = np.load(tmp_path / "bpd.npy")
    assert bpd.shape == (3,) and np.all(np.isfinite(bpd))


def test_bits_per_dim_test_split_needs_a_digits_run(run_dir, tmp_path):
    _assert_one_line_error(
        _run(
            "likelihood",
            run_dir,
            "--data",
            "test",
            "--bits-per-dim",
            "--out",
            tmp_path / "b.npy",
        ),
        "digits runs only",
    )


def test_image_data_gets_the_digits_recipe_defaults():
    # `scoresde train --dataset digits` with no flags trains the recipe: 3000
    # steps of batch 128 with a (16, 32) UNet and a 64-wide embedding; vector
    # data keep 4000 x 512, and explicit flags win.
    import jax

    import scoresde as ss
    from scoresde._cli import build_parser
    from scoresde._cli.train import _schedule, build_model

    def parsed(*flags):
        return build_parser().parse_args(["train", *flags, "--out", "unused"])

    digits = ss.datasets.get("digits", split="train")
    args = parsed("--dataset", "digits")
    assert _schedule(args, tuple(digits.shape)) == (3000, 128)
    keys = jax.random.split(jax.random.key(0), 2)
    net = build_model(args, digits, *keys).net
    assert net.channels == (16, 32) and net.embedding_dim == 64
    own = parsed("--dataset", "digits", "--channels", "8,16", "--steps", "7")
    assert build_model(own, digits, *keys).net.channels == (8, 16)
    assert _schedule(own, tuple(digits.shape)) == (7, 128)
    assert _schedule(parsed("--dataset", "mixture-1d"), (1,)) == (4000, 512)
