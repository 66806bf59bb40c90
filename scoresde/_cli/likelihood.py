"""`scoresde likelihood`: exact log-likelihoods of data under a trained run."""

import argparse
import math

from .._distributed import to_host
from ._common import (
    FORMATTER,
    CLIError,
    data_flags,
    load_array,
    load_run,
    nonneg_int,
    number,
    output_file,
    positive_float,
    positive_int,
    process_flags,
    run_dir_flag,
    save_array,
)


EPILOG = """examples:
  scoresde likelihood runs/digits --data test --bits-per-dim --out bpd.npy
  scoresde likelihood runs/mix --data samples.npy --out logp.npy
  scoresde likelihood runs/mix --data test.npy --divergence hutchinson --num-probes 4 --out logp.npy"""

DIVERGENCES = ("auto", "exact", "hutchinson")


def add_parser(sub) -> None:
    from .._likelihood import EXACT_DIVERGENCE_MAX_DIM

    p = sub.add_parser(
        "likelihood",
        parents=[
            run_dir_flag(),
            data_flags(".npy / .npz array of samples of the run's data shape"),
            process_flags(),
        ],
        help="exact log-likelihood of data under a trained run",
        description="Per-sample log-likelihood (nats) through the probability-flow "
        "ODE, saved as .npy, with a printed summary (mean NLL in nats and bits/dim).",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "--divergence",
        default="auto",
        choices=DIVERGENCES,
        help="divergence (default auto: exact for data of at most "
        f"{EXACT_DIVERGENCE_MAX_DIM} dimensions, else Hutchinson)",
    )
    p.add_argument(
        "--num-probes",
        type=positive_int,
        default=1,
        help="Hutchinson probes (default 1)",
    )
    p.add_argument(
        "--rtol",
        type=positive_float,
        default=1e-5,
        help="relative tolerance (default 1e-5)",
    )
    p.add_argument(
        "--atol",
        type=positive_float,
        default=1e-5,
        help="absolute tolerance (default 1e-5)",
    )
    p.add_argument(
        "--seed",
        type=nonneg_int,
        default=0,
        help="PRNG seed for Hutchinson probes (default 0)",
    )
    p.add_argument(
        "--bits-per-dim",
        action="store_true",
        help="discrete data: --data holds raw pixels (integers 0..K-1, or `test` "
        "for the held-out digits of a digits run); report dequantised bits/dim "
        "beside the uniform and per-pixel Gaussian baselines",
    )
    p.add_argument(
        "--num-levels",
        type=number(int, lambda v: v >= 2, "an integer >= 2"),
        help="with --bits-per-dim: the number of pixel levels K (default: the "
        "run's, e.g. 17 for digits, 256 for 8-bit images)",
    )
    p.add_argument("--out", required=True, help="output .npy file of log-likelihoods")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    output_file(args.out)
    run_, info = load_run(args.run_dir)
    if args.bits_per_dim:
        return _run_bits_per_dim(args, run_, info)
    if args.num_levels is not None:
        raise CLIError("--num-levels applies with --bits-per-dim")
    ys = load_array(args.data, args.data_key)
    shape = tuple(run_.config["data_shape"])
    if tuple(ys.shape[1:]) != shape:
        raise CLIError(
            f"--data must hold samples of shape {shape} (the run's data shape), "
            f"got {tuple(ys.shape[1:])}"
        )
    logp = ss.log_likelihood(
        jax.random.key(args.seed),
        run_.sde,
        run_.score,
        ys,
        ode=ss.ODESolve(rtol=args.rtol, atol=args.atol),
        divergence=_divergence(args),
    )
    logp = to_host(logp)  # several processes: all gather, process 0 writes
    if jax.process_index() != 0:
        return 0
    out = save_array(args.out, logp)
    _report(-logp, shape, out)
    name = info.get("dataset")
    if name in ("mixture-1d", "nine-gaussians"):
        mix = ss.datasets.get(name)
        true = -np.asarray(jax.vmap(mix.log_prob)(ys))
        print(
            f"exact NLL of the same points under the true {name} density: "
            f"{float(np.mean(true)):.4f} nats"
        )
    return 0


def _divergence(args: argparse.Namespace):
    """The estimator object for the `--divergence` shortcut."""
    import scoresde as ss

    if args.num_probes != 1 and args.divergence == "exact":
        raise CLIError("--num-probes applies to --divergence hutchinson or auto")
    hutchinson = ss.Hutchinson(num_probes=args.num_probes)
    if args.divergence == "exact":
        return ss.ExactDivergence()
    if args.divergence == "hutchinson":
        return hutchinson
    return ss.AutoDivergence(hutchinson=hutchinson)


def _report(nll, shape, out) -> None:
    import numpy as np

    dim = int(np.prod(shape))
    with np.errstate(invalid="ignore", over="ignore"):  # an infinite NLL is shown
        se = float(np.std(nll) / math.sqrt(max(len(nll) - 1, 1)))
        mean = float(np.mean(nll))
    print(f"mean NLL {mean:.4f} ± {se:.4f} nats over {len(nll)} samples; wrote {out}")
    print(
        f"          {mean / (dim * math.log(2)):.4f} bits/dim of the continuous "
        f"density (D = {dim})"
    )


def _run_bits_per_dim(args: argparse.Namespace, run_, info) -> int:
    """Dequantised bits/dim of raw pixels, with the two baselines beside."""
    import jax
    import numpy as np

    import scoresde as ss

    shape = tuple(run_.config["data_shape"])
    train_pixels = None
    if args.data == "test":
        if info.get("dataset") != "digits":
            raise CLIError("--data test is the held-out digits: for digits runs only")
        pixels = np.asarray(ss.datasets.get("digits", split="test").pixels)
        train_pixels = np.asarray(ss.datasets.get("digits", split="train").pixels)
        levels = 17
    else:
        pixels = load_array(args.data, args.data_key)
        levels = info.get("num_levels", 17 if info.get("dataset") == "digits" else 256)
    levels = args.num_levels or levels
    if tuple(pixels.shape[1:]) != shape:
        raise CLIError(
            f"--data must hold images of shape {shape} (the run's), got "
            f"{tuple(pixels.shape[1:])}"
        )
    bpd = ss.bits_per_dim(
        jax.random.key(args.seed),
        run_.sde,
        run_.score,
        pixels,
        num_levels=levels,
        ode=ss.ODESolve(rtol=args.rtol, atol=args.atol),
        divergence=_divergence(args),
    )
    bpd = to_host(bpd)  # several processes: all gather, process 0 writes
    if jax.process_index() != 0:
        return 0
    out = save_array(args.out, bpd)
    se = float(np.std(bpd) / math.sqrt(max(len(bpd) - 1, 1)))
    print(
        f"{float(np.mean(bpd)):.4f} ± {se:.4f} bits/dim (dequantised, K = {levels}) "
        f"over {len(bpd)} images; wrote {out}"
    )
    print(f"baseline, uniform over the levels: {math.log2(levels):.4f} bits/dim")
    if train_pixels is not None:
        gauss = ss.metrics.gaussian_bits_per_dim(
            pixels, train_pixels=train_pixels, num_levels=levels
        )
        print(
            "baseline, per-pixel Gaussian fitted to the train split: "
            f"{float(np.mean(gauss)):.4f} bits/dim"
        )
    return 0
