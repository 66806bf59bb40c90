"""`scoresde sample`: draw samples from a trained run with any registered sampler."""

import argparse
import contextlib
import math

from .._samplers.registry import SAMPLERS
from ._common import (
    FORMATTER,
    CLIError,
    add_registry_params,
    common_flags,
    load_run,
    nonneg_int,
    number,
    output_file,
    positive_int,
    process_flags,
    reference_samples,
    registry_kwargs,
    run_dir_flag,
    save_array,
    unused_params,
)


#: A guidance weight: a finite number >= 0.
nonneg_float = number(
    float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"
)

EPILOG = """examples:
  scoresde sample runs/mix --sampler dpm-solver --steps 20 --num 10000 --out samples.npy
  scoresde sample runs/mix --sampler edm-heun --steps 10 --num 10000 --out samples.npy
  scoresde sample runs/mix --sampler pf-ode --num 10000 --out samples.npy
  scoresde sample runs/mix --sampler reverse-sde --steps 500 --num 5000 --out s.npy --plot s.png
  scoresde sample runs/ddpm --sampler ancestral --num 2000 --out s.npy
  scoresde sample runs/nine-cond --label 3 --guidance 2.0 --num 1000 --out s.npy"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample",
        parents=[run_dir_flag(), common_flags(), process_flags()],
        help="draw samples from a trained run",
        description="Draw samples from a trained run with any sampler and save "
        "them as .npy. Samplers: " + SAMPLERS.help() + ".",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "--sampler",
        default="pf-ode",
        choices=SAMPLERS.names,
        help="sampler (default pf-ode)",
    )
    p.add_argument(
        "--num",
        type=positive_int,
        default=10_000,
        help="number of samples (default 10000)",
    )
    add_registry_params(p.add_argument_group("sampler parameters"), SAMPLERS)
    p.add_argument(
        "--plot", help="also save a histogram / scatter against the data (PNG)"
    )
    p.add_argument(
        "--label",
        type=nonneg_int,
        help="class label, for a run trained with --conditional (default: none)",
    )
    p.add_argument(
        "--guidance",
        type=nonneg_float,
        default=0.0,
        help="classifier-free guidance weight w >= 0, with --label (default 0)",
    )
    p.add_argument("--out", required=True, help="output .npy file")
    p.set_defaults(func=run)


def check_label(run_, label: int | None, guidance: float) -> None:
    """`--label` fits the run's classes; `--guidance` comes with a label."""
    if label is None:
        if guidance > 0:
            raise CLIError("--guidance needs --label (guidance steers towards a class)")
        return
    num_classes = run_.model.net.num_classes
    if num_classes is None:
        raise CLIError(
            "--label needs a class-conditional run (train with --conditional); "
            "this run was trained without labels"
        )
    if label >= num_classes:
        raise CLIError(
            f"--label must lie in 0..{num_classes - 1} for this run "
            f"({num_classes} classes), got {label}"
        )


def make_sampler(name: str, args: argparse.Namespace):
    """The sampler object that `--sampler name` and its flags describe."""
    unused = unused_params(SAMPLERS, name, args)
    if unused:
        raise CLIError(f"{', '.join(unused)} does not apply to --sampler {name}")
    return SAMPLERS.build(name, **registry_kwargs(SAMPLERS, name, args))


def needs_progress_bar(sampler) -> bool:
    """Whether a sampler's run is long enough for an in-loop progress bar: the
    adaptive probability-flow ODE, the chains and samplers of more than 100
    steps. Few-step samplers finish in seconds and go without, so their compiled
    program (free of host callbacks) is kept in the compilation cache."""
    steps = getattr(sampler, "num_steps", None)
    return steps is None or steps > 100


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    from .._distributed import to_host
    from .._runtime_checks import without_runtime_checks

    sampler = make_sampler(args.sampler, args)  # flags first: no run to load
    output_file(args.out)
    if args.plot:
        output_file(args.plot, "--plot", npy=False)
    run_, info = load_run(args.run_dir)
    check_label(run_, args.label, args.guidance)
    shape = tuple(run_.config["data_shape"])
    bar = not args.quiet and needs_progress_bar(sampler)
    if not args.quiet and not bar:
        print(f"drawing {args.num} samples with --sampler {args.sampler}", flush=True)

    def draw(checks: bool):
        with contextlib.nullcontext() if checks else without_runtime_checks():
            return ss.sample(
                jax.random.key(args.seed),
                run_.sde,
                run_.score,
                num_samples=args.num,
                shape=shape,
                sampler=sampler,
                progress=bar,
                return_stats=True,
                labels=args.label,
                guidance=args.guidance,
            )

    # Without a progress bar, the compiled sampler has no host callbacks when its
    # runtime checks are off, so JAX's persistent cache keeps it and the next
    # run starts fast; a non-finite sample reruns it with the checks, whose
    # error names the cause.
    # (Every process gathers the samples, so all of them decide alike.)
    ys, stats = draw(checks=bar)
    ys, nfe = to_host(ys), to_host(stats["nfe"])
    if not bar and not np.all(np.isfinite(ys)):
        ys, stats = draw(checks=True)
        ys, nfe = to_host(ys), to_host(stats["nfe"])
    # Several processes: process 0 alone writes.
    if jax.process_index() != 0:
        return 0
    out = save_array(args.out, ys)
    print(
        f"wrote {ys.shape[0]} samples of shape {shape} to {out} "
        f"({int(np.max(nfe))} score evaluations per sample)"
    )
    if args.plot:
        from .. import plotting

        title = f"{args.sampler} samples"
        if len(shape) == 3:
            plotting.plot_image_grid(ys[:64], title=title, path=args.plot)
        else:
            key = jax.random.key(args.seed + 1)
            reference = reference_samples(info, key, len(ys))
            plotting.plot_samples(ys, reference=reference, title=title, path=args.plot)
        print(f"wrote {args.plot}")
    return 0
