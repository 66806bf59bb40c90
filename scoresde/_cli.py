"""The `scoresde` command line: `train`, `sample`, `likelihood`, `plot`, `demo`.

Every sub-command mirrors the library (`ss.train`, `ss.sample`,
`ss.log_likelihood`, `ss.plotting`, the demo). A user error (unknown names,
missing or unreadable files, data of the wrong shape, nonsense numbers) is one line
on stderr and exit code 2, never a traceback.
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# ----------------------------------------------------------------- arg types
def _number(convert, ok, allowed: str):
    """An argparse type: `convert` the text, then require `ok(value)`; the error
    names what is `allowed`."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {allowed}, got {text!r}"
            ) from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(
    float, lambda v: math.isfinite(v) and v > 0, "a positive finite number"
)
_unit_float = _number(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 32,64, got {text!r}"
        )
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


# ------------------------------------------------------------------ helpers
SAMPLERS = ("pf-ode", "reverse-sde", "pc", "ancestral", "annealed-langevin")
CLI_CONFIG = "cli.json"


def _load_array(path: str, key: str | None = None):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"data file {p} does not exist")
    try:
        loaded = np.load(p, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user error
        raise CLIError(f"cannot read {p} as .npy/.npz: {e}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = list(loaded.files)
        if key is None:
            if len(names) != 1:
                raise CLIError(f"{p} holds arrays {names}; choose one with --data-key")
            key = names[0]
        if key not in names:
            raise CLIError(f"{p} has no array {key!r}; it holds {names}")
        loaded = loaded[key]
    arr = np.asarray(loaded)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(
        arr.dtype, np.complexfloating
    ):
        raise CLIError(f"{p} must hold a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] == 0:
        raise CLIError(f"{p} holds no samples (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise CLIError(f"{p} contains NaN or inf")
    return arr.astype(np.float32)


def _load_run(run_dir: str):
    import scoresde as ss

    p = Path(run_dir)
    if not p.is_dir():
        raise CLIError(
            f"run directory {p} does not exist (make one with `scoresde train --out {p}`)"
        )
    try:
        run = ss.load(p)
    except ss.CheckpointError as e:
        raise CLIError(str(e)) from None
    info: dict[str, Any] = {}
    cli_json = p / CLI_CONFIG
    if cli_json.is_file():
        try:
            info = json.loads(cli_json.read_text())
        except json.JSONDecodeError:
            info = {}
    return run, info


def make_sampler(
    name: str,
    *,
    num_steps: int | None,
    snr: float,
    rtol: float,
    atol: float,
    step_size: float | None,
):
    """The sampler object for a command-line name."""
    import scoresde as ss

    if name == "pf-ode":
        return ss.ProbabilityFlowODE(rtol=rtol, atol=atol)
    if name == "reverse-sde":
        return ss.ReverseSDE(num_steps=num_steps or 1000)
    if name == "pc":
        return ss.PredictorCorrector(num_steps=num_steps or 1000, snr=snr)
    if name == "ancestral":
        return ss.Ancestral()
    if name == "annealed-langevin":
        kwargs = {} if step_size is None else {"step_size": step_size}
        return ss.AnnealedLangevin(steps_per_level=num_steps or 100, **kwargs)
    raise CLIError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")


# -------------------------------------------------------------- sub-commands
def _cmd_train(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    if (args.dataset is None) == (args.data is None):
        raise CLIError("give exactly one of --dataset NAME or --data FILE")
    if args.dataset is not None:
        if args.dataset not in ss.datasets.NAMES:
            raise CLIError(
                f"unknown dataset {args.dataset!r}; known: {', '.join(ss.datasets.NAMES)}"
            )
        data = ss.datasets.get(args.dataset)
        source = {"dataset": args.dataset}
    else:
        data = ss.datasets.ArrayDataset(_load_array(args.data, args.data_key))
        source = {"data": str(Path(args.data).resolve())}
    shape = tuple(data.shape)

    sde_kwargs: dict[str, Any] = {}
    if args.sde in ("vp", "subvp"):
        sde_kwargs = {"beta_min": args.beta_min, "beta_max": args.beta_max}
    elif args.sde == "ve":
        sde_kwargs = {"sigma_min": args.sigma_min, "sigma_max": args.sigma_max or 50.0}
    elif args.sde == "ddpm":
        sde_kwargs = {
            "num_steps": args.num_levels or 1000,
            "beta_start": args.beta_start,
            "beta_end": args.beta_end,
        }
    elif args.sde == "ncsn":
        sde_kwargs = {
            "sigma_min": args.sigma_min,
            "sigma_max": args.sigma_max or 1.0,
            "num_steps": args.num_levels or 100,
        }
    sde = ss.make_sde(args.sde, **sde_kwargs)

    net_kind = args.net or ("unet" if len(shape) == 3 else "mlp")
    if net_kind == "mlp" and len(shape) != 1:
        raise CLIError(
            f"--net mlp needs vector data of shape (d,), got samples of shape {shape}; use --net unet"
        )
    if net_kind == "unet" and len(shape) != 3:
        raise CLIError(
            f"--net unet needs images of shape (C, H, W), got samples of shape {shape}"
        )
    net_kwargs: dict[str, Any] = {}
    if net_kind == "mlp":
        net_kwargs = {"width": args.width, "depth": args.depth}
    elif args.channels is not None:
        net_kwargs = {"channels": args.channels}
    key = jax.random.key(args.seed)
    key_net, key_train, key_std = jax.random.split(key, 3)
    net = ss.make_net(net_kind, shape, key=key_net, **net_kwargs)
    data_std = float(np.std(np.asarray(data.sample(key_std, 10_000))))
    model = ss.ScoreModel(
        net, sde, parameterization=args.parameterization, data_std=data_std
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / CLI_CONFIG).write_text(
        json.dumps({**source, "shape": list(shape), "seed": args.seed}, indent=2)
    )
    result = ss.train(
        model,
        data,
        key=key_train,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weighting=args.weighting,
        ema_decay=args.ema_decay,
        checkpoint_dir=out,
        checkpoint_every=args.checkpoint_every,
        resume=not args.restart,
        progress=not args.quiet,
    )
    tail = result.losses[-min(100, len(result.losses)) :]
    status = "interrupted at" if result.interrupted else "trained"
    print(
        f"{status} step {result.step}: mean loss of the last {len(tail)} steps {float(np.mean(tail)):.4f}; run in {out}"
    )
    return 130 if result.interrupted else 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    run, info = _load_run(args.run_dir)
    sampler = make_sampler(
        args.sampler,
        num_steps=args.steps,
        snr=args.snr,
        rtol=args.rtol,
        atol=args.atol,
        step_size=args.step_size,
    )
    shape = tuple(run.config["data_shape"])
    ys, stats = ss.sample(
        jax.random.key(args.seed),
        run.sde,
        run.score,
        num_samples=args.num,
        shape=shape,
        sampler=sampler,
        progress=not args.quiet,
        return_stats=True,
    )
    ys = np.asarray(ys)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, ys)
    print(
        f"wrote {ys.shape[0]} samples of shape {shape} to {out} ({int(np.max(stats['nfe']))} score evaluations per sample)"
    )
    if args.plot:
        from . import plotting

        reference = _reference(info, jax.random.key(args.seed + 1), ys.shape[0])
        plotting.plot_samples(
            ys, reference=reference, title=f"{args.sampler} samples", path=args.plot
        )
        print(f"wrote {args.plot}")
    return 0


def _reference(info: dict[str, Any], key, n: int):
    """True data to compare with, when the run was trained on a named dataset."""
    import numpy as np

    import scoresde as ss

    name = info.get("dataset")
    if name in ss.datasets.NAMES and name != "digits":
        return np.asarray(ss.datasets.get(name).sample(key, n))
    return None


def _cmd_likelihood(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    run, info = _load_run(args.run_dir)
    ys = _load_array(args.data, args.data_key)
    shape = tuple(run.config["data_shape"])
    if tuple(ys.shape[1:]) != shape:
        raise CLIError(
            f"--data must hold samples of shape {shape} (the run's data shape), got {tuple(ys.shape[1:])}"
        )
    logp = ss.log_likelihood(
        jax.random.key(args.seed),
        run.sde,
        run.score,
        ys,
        rtol=args.rtol,
        atol=args.atol,
        divergence=args.divergence,
        num_probes=args.num_probes,
    )
    logp = np.asarray(logp)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, logp)
    nll = -logp
    dim = int(np.prod(shape))
    se = float(np.std(nll) / math.sqrt(max(len(nll) - 1, 1)))
    print(
        f"mean NLL {float(np.mean(nll)):.4f} ± {se:.4f} nats over {len(nll)} samples; wrote {out}"
    )
    print(
        f"          {float(np.mean(nll)) / (dim * math.log(2)):.4f} bits/dim of the continuous density (D = {dim})"
    )
    name = info.get("dataset")
    if name in ("mixture-1d", "nine-gaussians"):
        mix = ss.datasets.get(name)
        true = -np.asarray(jax.vmap(mix.log_prob)(ys))
        print(
            f"exact NLL of the same points under the true {name} density: {float(np.mean(true)):.4f} nats"
        )
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from . import plotting

    run, info = _load_run(args.run_dir) if args.run_dir else (None, {})
    if args.what == "loss":
        if run is None:
            raise CLIError("plotting the loss needs a RUN_DIR")
        plotting.plot_loss(run.losses, path=args.out)
    else:
        if args.samples is None:
            raise CLIError("plotting samples needs --samples FILE.npy")
        ys = _load_array(args.samples)
        if args.dataset is not None:
            info = {"dataset": args.dataset}
        reference = _reference(info, jax.random.key(0), ys.shape[0])
        if ys.ndim == 2 and ys.shape[1] > 2:
            raise CLIError(f"can plot 1-D or 2-D samples, got shape {ys.shape[1:]}")
        plotting.plot_samples(np.asarray(ys), reference=reference, path=args.out)
    print(f"wrote {args.out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    report = run_demo(Path(args.out), quick=args.quick, seed=args.seed)
    print(f"wrote {report}")
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="scoresde",
        description="Score-based generative modelling with exact SDEs (JAX, Equinox, Diffrax).",
        epilog="Run `scoresde COMMAND --help` for each command's options and examples.",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    tr = sub.add_parser(
        "train",
        help="train a score model; writes a run directory",
        description="Train a score model by denoising score matching and write a run directory "
        "(config.json, checkpoint, losses) that `scoresde sample`, `scoresde likelihood` and "
        "`ss.load` read. Rerunning with the same --out resumes from its checkpoint.",
        epilog="examples:\n"
        "  scoresde train --dataset mixture-1d --sde vp --steps 4000 --out runs/mix\n"
        "  scoresde train --dataset nine-gaussians --sde subvp --seed 1 --out runs/nine\n"
        "  scoresde train --data my_array.npy --sde ve --sigma-max 20 --out runs/mine\n"
        "  scoresde train --dataset digits --sde vp --steps 20000 --out runs/digits",
        formatter_class=fmt,
    )
    tr.add_argument(
        "--dataset",
        help="a named dataset: mixture-1d, nine-gaussians, two-moons, swiss-roll, checkerboard, digits",
    )
    tr.add_argument(
        "--data", help="your own .npy / .npz array of shape (n, *sample_shape)"
    )
    tr.add_argument("--data-key", help="the array's name inside an .npz file")
    tr.add_argument(
        "--sde",
        default="vp",
        choices=("vp", "subvp", "ve", "ddpm", "ncsn"),
        help="forward SDE (default vp)",
    )
    tr.add_argument(
        "--beta-min",
        type=_positive_float,
        default=0.1,
        help="VP / sub-VP beta_min (default 0.1)",
    )
    tr.add_argument(
        "--beta-max",
        type=_positive_float,
        default=20.0,
        help="VP / sub-VP beta_max (default 20)",
    )
    tr.add_argument(
        "--sigma-min",
        type=_positive_float,
        default=0.01,
        help="VE / NCSN sigma_min (default 0.01)",
    )
    tr.add_argument(
        "--sigma-max",
        type=_positive_float,
        help="VE / NCSN sigma_max (default 50 for ve, 1 for ncsn)",
    )
    tr.add_argument(
        "--beta-start",
        type=_positive_float,
        default=1e-4,
        help="DDPM beta_1 (default 1e-4)",
    )
    tr.add_argument(
        "--beta-end",
        type=_positive_float,
        default=0.02,
        help="DDPM beta_N (default 0.02)",
    )
    tr.add_argument(
        "--num-levels",
        type=_positive_int,
        help="DDPM / NCSN number of steps N (default 1000 / 100)",
    )
    tr.add_argument(
        "--net",
        choices=("mlp", "unet"),
        help="network (default: mlp for vectors, unet for images)",
    )
    tr.add_argument(
        "--width", type=_positive_int, default=128, help="MLP width (default 128)"
    )
    tr.add_argument(
        "--depth", type=_positive_int, default=3, help="MLP residual blocks (default 3)"
    )
    tr.add_argument(
        "--channels", type=_int_list, help="UNet channels per resolution, e.g. 32,64"
    )
    tr.add_argument(
        "--parameterization",
        default="eps",
        choices=("eps", "score", "v", "x0"),
        help="what the network predicts (default eps)",
    )
    tr.add_argument(
        "--weighting",
        default="score",
        choices=("score", "likelihood", "eps", "v"),
        help="DSM weighting (default score)",
    )
    tr.add_argument(
        "--steps",
        type=_positive_int,
        default=4000,
        help="training steps (default 4000)",
    )
    tr.add_argument(
        "--batch-size", type=_positive_int, default=512, help="batch size (default 512)"
    )
    tr.add_argument(
        "--lr",
        type=_positive_float,
        default=2e-3,
        help="peak learning rate (default 2e-3)",
    )
    tr.add_argument(
        "--ema-decay",
        type=_unit_float,
        default=0.999,
        help="EMA decay in [0, 1) (default 0.999)",
    )
    tr.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        help="steps between checkpoints (default: a few per run)",
    )
    tr.add_argument(
        "--restart",
        action="store_true",
        help="ignore an existing checkpoint in --out instead of resuming",
    )
    tr.add_argument("--seed", type=_nonneg_int, default=0, help="PRNG seed (default 0)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--out", required=True, help="run directory")
    tr.set_defaults(func=_cmd_train)

    sa = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Draw samples from a trained run with any sampler and save them as .npy.",
        epilog="examples:\n"
        "  scoresde sample runs/mix --sampler pf-ode --num 10000 --out samples.npy\n"
        "  scoresde sample runs/mix --sampler reverse-sde --steps 500 --num 5000 --out s.npy --plot s.png\n"
        "  scoresde sample runs/ddpm --sampler ancestral --num 2000 --out s.npy",
        formatter_class=fmt,
    )
    sa.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run directory written by `scoresde train`"
    )
    sa.add_argument(
        "--sampler", default="pf-ode", choices=SAMPLERS, help="sampler (default pf-ode)"
    )
    sa.add_argument(
        "--num",
        type=_positive_int,
        default=10_000,
        help="number of samples (default 10000)",
    )
    sa.add_argument(
        "--steps",
        type=_positive_int,
        help="steps (reverse-sde / pc: default 1000; annealed-langevin: per level, default 100)",
    )
    sa.add_argument(
        "--snr",
        type=_positive_float,
        default=0.16,
        help="pc: corrector signal-to-noise ratio (default 0.16)",
    )
    sa.add_argument(
        "--step-size", type=_positive_float, help="annealed-langevin: base step size"
    )
    sa.add_argument(
        "--rtol",
        type=_positive_float,
        default=1e-5,
        help="pf-ode: relative tolerance (default 1e-5)",
    )
    sa.add_argument(
        "--atol",
        type=_positive_float,
        default=1e-5,
        help="pf-ode: absolute tolerance (default 1e-5)",
    )
    sa.add_argument("--seed", type=_nonneg_int, default=0, help="PRNG seed (default 0)")
    sa.add_argument(
        "--plot", help="also save a histogram / scatter against the data (PNG)"
    )
    sa.add_argument("--quiet", action="store_true", help="no progress bar")
    sa.add_argument("--out", required=True, help="output .npy file")
    sa.set_defaults(func=_cmd_sample)

    li = sub.add_parser(
        "likelihood",
        help="exact log-likelihood of data under a trained run",
        description="Per-sample log-likelihood (nats) through the probability-flow ODE, saved as .npy, "
        "with a printed summary (mean NLL in nats and bits/dim).",
        epilog="examples:\n"
        "  scoresde likelihood runs/mix --data samples.npy --out logp.npy\n"
        "  scoresde likelihood runs/mix --data test.npy --divergence hutchinson --num-probes 4 --out logp.npy",
        formatter_class=fmt,
    )
    li.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run directory written by `scoresde train`"
    )
    li.add_argument(
        "--data",
        required=True,
        help=".npy / .npz array of samples of the run's data shape",
    )
    li.add_argument("--data-key", help="the array's name inside an .npz file")
    li.add_argument(
        "--divergence",
        default="auto",
        choices=("auto", "exact", "hutchinson"),
        help="divergence (default auto: exact for small data)",
    )
    li.add_argument(
        "--num-probes",
        type=_positive_int,
        default=1,
        help="Hutchinson probes (default 1)",
    )
    li.add_argument(
        "--rtol",
        type=_positive_float,
        default=1e-5,
        help="relative tolerance (default 1e-5)",
    )
    li.add_argument(
        "--atol",
        type=_positive_float,
        default=1e-5,
        help="absolute tolerance (default 1e-5)",
    )
    li.add_argument(
        "--seed",
        type=_nonneg_int,
        default=0,
        help="PRNG seed for Hutchinson probes (default 0)",
    )
    li.add_argument("--out", required=True, help="output .npy file of log-likelihoods")
    li.set_defaults(func=_cmd_likelihood)

    pl = sub.add_parser(
        "plot",
        help="plot samples against the data, or a run's loss curve",
        description="Plot samples (histogram for 1-D, scatter for 2-D) against the run's data, or its loss curve.",
        epilog="examples:\n"
        "  scoresde plot runs/mix --samples samples.npy --out samples.png\n"
        "  scoresde plot runs/mix --what loss --out loss.png\n"
        "  scoresde plot --samples samples.npy --dataset nine-gaussians --out s.png",
        formatter_class=fmt,
    )
    pl.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="?",
        help="a run directory (optional for --what samples)",
    )
    pl.add_argument(
        "--what",
        default="samples",
        choices=("samples", "loss"),
        help="what to plot (default samples)",
    )
    pl.add_argument("--samples", help=".npy samples to plot")
    pl.add_argument(
        "--dataset", help="named dataset to compare with (default: the run's)"
    )
    pl.add_argument("--out", required=True, help="output PNG")
    pl.set_defaults(func=_cmd_plot)

    de = sub.add_parser(
        "demo",
        help="reproduce the seed experiments as figures and a report",
        description="Reproduce the two seed write-ups' experiments, done right: figures and DIR/report.md.",
        epilog="example:\n  scoresde demo --out out/demo          (about 10 minutes on 2 CPU cores)\n"
        "  scoresde demo --out /tmp/d --quick    (tiny settings, for tests)",
        formatter_class=fmt,
    )
    de.add_argument("--out", required=True, help="output folder")
    de.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    de.add_argument("--seed", type=_nonneg_int, default=0, help="PRNG seed (default 0)")
    de.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as e:
        msg = str(e)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    except KeyboardInterrupt:
        print(f"scoresde {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"scoresde {args.command}: error: {msg}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
