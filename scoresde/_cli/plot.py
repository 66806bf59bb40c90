"""`scoresde plot`: samples against the data, or a run's loss curve."""

import argparse

from ._common import (
    FORMATTER,
    CLIError,
    load_array,
    load_run,
    output_file,
    reference_samples,
)


EPILOG = """examples:
  scoresde plot runs/mix --samples samples.npy --out samples.png
  scoresde plot runs/mix --what loss --out loss.png
  scoresde plot --samples samples.npy --dataset nine-gaussians --out s.png"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="plot samples against the data, or a run's loss curve",
        description="Plot samples (histogram for 1-D, scatter for 2-D) against the "
        "run's data, or its loss curve.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="?",
        help="a run directory (optional for --what samples)",
    )
    p.add_argument(
        "--what",
        default="samples",
        choices=("samples", "loss"),
        help="what to plot (default samples)",
    )
    p.add_argument("--samples", help=".npy samples to plot")
    p.add_argument(
        "--dataset", help="named dataset to compare with (default: the run's)"
    )
    p.add_argument("--out", required=True, help="output PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    from .. import plotting

    output_file(args.out, npy=False)
    if args.dataset is not None and args.dataset not in ss.datasets.NAMES:
        raise CLIError(
            f"unknown dataset {args.dataset!r}; known: {', '.join(ss.datasets.NAMES)}"
        )
    run_, info = load_run(args.run_dir) if args.run_dir else (None, {})
    if args.what == "loss":
        if run_ is None:
            raise CLIError("plotting the loss needs a RUN_DIR")
        plotting.plot_loss(run_.losses, path=args.out)
    else:
        if args.samples is None:
            raise CLIError("plotting samples needs --samples FILE.npy")
        ys = load_array(args.samples)
        if args.dataset is not None:
            info = {"dataset": args.dataset}
        if ys.ndim == 2 and ys.shape[1] > 2:
            raise CLIError(f"can plot 1-D or 2-D samples, got shape {ys.shape[1:]}")
        reference = reference_samples(info, jax.random.key(0), ys.shape[0])
        if reference is not None and reference.shape[1:] != ys.shape[1:]:
            raise CLIError(
                f"--samples hold samples of shape {ys.shape[1:]}, but dataset "
                f"{info['dataset']!r} has samples of shape {reference.shape[1:]}"
            )
        plotting.plot_samples(np.asarray(ys), reference=reference, path=args.out)
    print(f"wrote {args.out}")
    return 0
