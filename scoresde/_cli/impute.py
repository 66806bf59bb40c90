"""`scoresde impute`: fill in the unobserved entries of data with a trained run."""

import argparse
from pathlib import Path

from .._samplers.registry import SAMPLERS
from ._common import (
    FORMATTER,
    CLIError,
    add_registry_params,
    common_flags,
    load_run,
    output_file,
    process_flags,
    run_dir_flag,
    save_array,
)
from .sample import make_sampler


EPILOG = """examples:
  scoresde impute runs/mix --data obs.npy --mask mask.npy --out imputed.npy
  scoresde impute runs/mix --data obs.npy --mask mask.npy --method reconstruction \\
      --sampler reverse-sde --steps 500 --out imputed.npy

obs.npy: shape (n, *shape), one row per sample to complete (entries where the
mask is False are ignored and may be NaN); mask.npy: booleans (or 0/1) of shape
`shape` (the same entries observed in every row) or (n, *shape), True/1 =
observed."""

METHODS = ("replacement", "reconstruction")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "impute",
        parents=[run_dir_flag(), common_flags(), process_flags()],
        help="impute the unobserved entries of data with a trained run",
        description="Sample the unobserved entries of each row of --data given its "
        "observed ones (--mask True), with the run's unconditional score "
        "(ss.impute): replacement (Song et al. 2021) or reconstruction guidance "
        "(Ho et al. 2022). Observed entries are kept exactly.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument("--data", required=True, help=".npy array (n, *shape)")
    p.add_argument("--mask", required=True, help=".npy booleans, True = observed")
    p.add_argument(
        "--method",
        default="replacement",
        choices=METHODS,
        help="imputation method (default replacement)",
    )
    p.add_argument(
        "--sampler",
        default="reverse-sde",
        choices=SAMPLERS.names,
        help="sampler (default reverse-sde)",
    )
    add_registry_params(p.add_argument_group("sampler parameters"), SAMPLERS)
    p.add_argument("--out", required=True, help="output .npy file")
    p.set_defaults(func=run)


def _load(path: str, what: str):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{what} file {p} does not exist")
    try:
        return np.asarray(np.load(p, allow_pickle=False))
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user error
        raise CLIError(f"cannot read {p} as .npy: {e}") from None


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    from .._distributed import to_host

    sampler = make_sampler(args.sampler, args)  # flags first: no run to load
    output_file(args.out)
    run_, _ = load_run(args.run_dir)
    shape = tuple(run_.config["data_shape"])
    observed = _load(args.data, "data")
    mask = _load(args.mask, "mask")
    if observed.ndim == len(shape) and observed.shape == shape:
        observed = observed[None]
    if tuple(observed.shape[1:]) != shape:
        raise CLIError(
            f"--data must have shape (n, {', '.join(map(str, shape))}) for this run "
            f"(samples of shape {shape}), got {observed.shape}"
        )
    if mask.dtype != np.bool_:
        if np.issubdtype(mask.dtype, np.integer) and np.isin(mask, (0, 1)).all():
            mask = mask.astype(bool)
        else:
            raise CLIError(
                f"--mask must hold booleans or 0/1 (True = observed), got dtype "
                f"{mask.dtype}"
            )
    if mask.shape not in (shape, observed.shape):
        raise CLIError(
            f"--mask must have the shape of one sample {shape} or of --data "
            f"{observed.shape}, got {mask.shape}"
        )
    ys = ss.impute(
        jax.random.key(args.seed),
        run_.sde,
        run_.score,
        observed,
        mask,
        sampler=sampler,
        method=args.method,
    )
    ys = to_host(ys)  # several processes: all gather, process 0 writes
    if jax.process_index() != 0:
        return 0
    out = save_array(args.out, ys)
    print(f"wrote {ys.shape[0]} imputed samples of shape {shape} to {out}")
    return 0
