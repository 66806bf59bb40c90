"""`scoresde likelihood`: exact log-likelihoods of data under a trained run."""

import argparse
import math

from ._common import (
    FORMATTER,
    CLIError,
    data_flags,
    load_array,
    load_run,
    nonneg_int,
    positive_float,
    positive_int,
    run_dir_flag,
    save_array,
)


EPILOG = """examples:
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
    p.add_argument("--out", required=True, help="output .npy file of log-likelihoods")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    run_, info = load_run(args.run_dir)
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
    logp = np.asarray(logp)
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
    se = float(np.std(nll) / math.sqrt(max(len(nll) - 1, 1)))
    mean = float(np.mean(nll))
    print(f"mean NLL {mean:.4f} ± {se:.4f} nats over {len(nll)} samples; wrote {out}")
    print(
        f"          {mean / (dim * math.log(2)):.4f} bits/dim of the continuous "
        f"density (D = {dim})"
    )
