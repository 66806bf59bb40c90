"""`scoresde train`: train a score model and write a run directory."""

import argparse
from pathlib import Path

from .._model import PARAMETERIZATIONS
from .._sde.registry import SDES
from .._weighting import WEIGHTINGS
from ..nets._registry import NETS
from ._common import (
    FORMATTER,
    CLIError,
    add_registry_params,
    common_flags,
    data_flags,
    load_array,
    positive_float,
    positive_int,
    process_flags,
    registry_kwargs,
    unit_float,
    unused_params,
    write_source,
)


EPILOG = """examples:
  scoresde train --dataset mixture-1d --sde vp --steps 4000 --out runs/mix
  scoresde train --dataset nine-gaussians --sde subvp --seed 1 --out runs/nine
  scoresde train --data my_array.npy --sde ve --sigma-max 20 --out runs/mine
  scoresde train --dataset digits --out runs/digits   (about 10 minutes on 2 CPU cores)
  scoresde train --dataset nine-gaussians --conditional --label-dropout 0.1 --out runs/nine-cond"""


def add_parser(sub) -> None:
    import scoresde as ss

    p = sub.add_parser(
        "train",
        parents=[
            common_flags(),
            data_flags(_DATA_HELP, required=False),
            process_flags(),
        ],
        help="train a score model; writes a run directory",
        description="Train a score model by denoising score matching and write a "
        "run directory (config.json, checkpoint, losses) that `scoresde sample`, "
        "`scoresde likelihood` and `ss.load` read. Rerunning with the same --out "
        "resumes from its checkpoint.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument("--dataset", help=f"a named dataset: {', '.join(ss.datasets.NAMES)}")
    p.add_argument(
        "--sde", default="vp", choices=SDES.names, help="forward SDE (default vp)"
    )
    add_registry_params(p.add_argument_group("SDE parameters"), SDES)
    p.add_argument(
        "--net",
        choices=NETS.names,
        help="network (default: mlp for vectors, unet for images)",
    )
    add_registry_params(p.add_argument_group("network parameters"), NETS)
    p.add_argument(
        "--parameterization",
        default="v",
        choices=PARAMETERIZATIONS,
        help="what the network predicts (default v: a network error far from the data is not amplified by the noise level, as it is for eps)",
    )
    p.add_argument(
        "--weighting",
        default="score",
        choices=WEIGHTINGS.names,
        help="DSM weighting (default score)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        help="training steps (default 4000; 3000 for images)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        help="batch size (default 512; 128 for images)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=2e-3,
        help="peak learning rate (default 2e-3)",
    )
    p.add_argument(
        "--ema-decay",
        type=unit_float,
        default=0.999,
        help="EMA decay in [0, 1) (default 0.999)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        help="steps between checkpoints (default: none; a checkpoint is still "
        "written at least every 2 minutes of wall time, at the end, and on Ctrl-C "
        "or SIGTERM)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="ignore an existing checkpoint in --out instead of resuming",
    )
    p.add_argument(
        "--conditional",
        action="store_true",
        help="train a class-conditional model on a labelled dataset (a mixture's "
        "components, digits' digits), for `scoresde sample --label`",
    )
    p.add_argument(
        "--label-dropout",
        type=unit_float,
        help="with --conditional: share of labels replaced by the null label, for "
        "classifier-free guidance (default 0.1)",
    )
    p.add_argument("--out", required=True, help="run directory")
    p.set_defaults(func=run)


_DATA_HELP = (
    "your own .npy / .npz array of shape (n, *sample_shape), or images: a folder "
    "of PNG/JPEG files of one size, or a uint8 array (n, H, W) or (n, H, W, C)"
)


def _data(args: argparse.Namespace):
    """The dataset and a record of where it came from. Digits train on their
    fixed train split; `--data` takes an array of samples, or images (a folder
    of PNG/JPEG files, or a uint8 array (n, H, W) / (n, H, W, C))."""
    import scoresde as ss

    if (args.dataset is None) == (args.data is None):
        raise CLIError("give exactly one of --dataset NAME or --data FILE")
    if args.dataset is not None:
        if args.dataset not in ss.datasets.NAMES:
            raise CLIError(
                f"unknown dataset {args.dataset!r}; known: "
                f"{', '.join(ss.datasets.NAMES)}"
            )
        if args.dataset == "digits":
            data = ss.datasets.get("digits", split="train")
            return data, {"dataset": "digits", "split": "train"}
        return ss.datasets.get(args.dataset), {"dataset": args.dataset}
    source = {"data": str(Path(args.data).resolve())}
    if _holds_images(args.data, args.data_key):
        images = ss.datasets.load_images(args.data, key=args.data_key)
        return images, {**source, "num_levels": int(images.num_levels)}
    data = ss.datasets.ArrayDataset(load_array(args.data, args.data_key))
    return data, source


def _holds_images(path: str, key: str | None) -> bool:
    """A folder, or a `.npy`/`.npz` whose array is uint8 of 3 or 4 dimensions."""
    import numpy as np

    p = Path(path)
    if p.is_dir():
        return True
    if not p.is_file() or p.suffix.lower() not in (".npy", ".npz"):
        return False
    try:
        loaded = np.load(p, allow_pickle=False, mmap_mode="r")
        if isinstance(loaded, np.lib.npyio.NpzFile):
            names = list(loaded.files)
            name = key if key is not None else (names[0] if len(names) == 1 else None)
            if name not in names:
                return False
            loaded = loaded[name]
    except Exception:  # noqa: BLE001 - load_array reports unreadable files
        return False
    return loaded.dtype == np.uint8 and loaded.ndim in (3, 4)


def _net_kind(args: argparse.Namespace, shape: tuple[int, ...]) -> str:
    kind = args.net or ("unet" if len(shape) == 3 else "mlp")
    if kind == "mlp" and len(shape) != 1:
        raise CLIError(
            f"--net mlp needs vector data of shape (d,), got samples of shape "
            f"{shape}; use --net unet"
        )
    if kind == "unet" and len(shape) != 3:
        raise CLIError(
            f"--net unet needs images of shape (C, H, W), got samples of shape {shape}"
        )
    return kind


def _check_flags(args: argparse.Namespace, net_kind: str) -> None:
    for registry, name, what in ((SDES, args.sde, "--sde"), (NETS, net_kind, "--net")):
        unused = unused_params(registry, name, args)
        if unused:
            raise CLIError(f"{', '.join(unused)} does not apply to {what} {name}")


def _check_conditional(args: argparse.Namespace, data) -> float:
    """`--conditional` needs a labelled dataset; `--label-dropout` needs
    `--conditional`. Returns the label dropout to train with."""
    import scoresde as ss

    if not args.conditional:
        if args.label_dropout is not None:
            raise CLIError("--label-dropout applies only with --conditional")
        return 0.0
    if not isinstance(data, ss.datasets.AbstractLabelledDataset):
        labelled = [
            name
            for name in ss.datasets.NAMES
            if isinstance(ss.datasets.get(name), ss.datasets.AbstractLabelledDataset)
        ]
        raise CLIError(
            "--conditional needs a labelled dataset (--dataset "
            f"{' | '.join(labelled)}); this data has no labels"
        )
    return 0.1 if args.label_dropout is None else args.label_dropout


#: The image recipe: the defaults for data of shape (C, H, W) (vectors: 4000
#: steps of batch 512). On 8x8 digits it trains in about 10 minutes on two CPU
#: cores (docs/images.md, benchmarks/images.py).
IMAGE_STEPS, IMAGE_BATCH_SIZE = 3000, 128
#: A smaller UNet for 8x8 images (the UNet's own default is for larger ones).
SMALL_IMAGE_UNET = {"channels": (16, 32), "embedding_dim": 64}


def _schedule(args: argparse.Namespace, shape: tuple[int, ...]) -> tuple[int, int]:
    """Steps and batch size: the flags, or the defaults for this kind of data."""
    image = len(shape) == 3
    steps = args.steps or (IMAGE_STEPS if image else 4000)
    batch_size = args.batch_size or (IMAGE_BATCH_SIZE if image else 512)
    return steps, batch_size


def build_model(args: argparse.Namespace, data, key_net, key_std):
    """The untrained `ScoreModel` the flags describe (`key_std` draws the
    samples that estimate the data's standard deviation)."""
    import numpy as np

    import scoresde as ss

    shape = tuple(data.shape)
    net_kind = _net_kind(args, shape)
    _check_flags(args, net_kind)
    sde = SDES.build(args.sde, **registry_kwargs(SDES, args.sde, args))
    net_kwargs = registry_kwargs(NETS, net_kind, args)
    if net_kind == "unet" and max(shape[1:]) <= 8:
        net_kwargs = {**SMALL_IMAGE_UNET, **net_kwargs}
    if getattr(args, "conditional", False):
        net_kwargs["num_classes"] = data.num_classes
    net = NETS.build(net_kind, shape, key=key_net, **net_kwargs)
    data_std = float(np.std(np.asarray(data.sample(key_std, 10_000))))
    return ss.ScoreModel(
        net, sde, parameterization=args.parameterization, data_std=data_std
    )


def _check_out(out: Path) -> Path:
    """`--out` is a directory or can become one (made later, once the flags and
    the data are known to be good)."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a run directory")
    ancestor = out
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CLIError(
            f"cannot create the run directory {out}: {ancestor} is not a directory"
        )
    return out


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import scoresde as ss

    out = _check_out(Path(args.out))  # first: no data to load for a typo here
    data, source = _data(args)
    label_dropout = _check_conditional(args, data)
    key_net, key_train, key_std = jax.random.split(jax.random.key(args.seed), 3)
    model = build_model(args, data, key_net, key_std)
    main = jax.process_index() == 0  # several processes: process 0 alone writes
    if main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CLIError(
                f"cannot create the run directory {out}: {e.strerror or e}"
            ) from None
        write_source(out, {**source, "shape": list(data.shape), "seed": args.seed})
    steps, batch_size = _schedule(args, tuple(data.shape))
    result = ss.train(
        model,
        data,
        key=key_train,
        steps=steps,
        batch_size=batch_size,
        learning_rate=args.lr,
        weighting=args.weighting,
        ema_decay=args.ema_decay,
        checkpoint_dir=out,
        checkpoint_every=args.checkpoint_every,
        resume=not args.restart,
        progress=not args.quiet,
        label_dropout=label_dropout,
    )
    if not main:
        return 130 if result.interrupted else 0
    tail = result.losses[-min(100, len(result.losses)) :]
    status = "interrupted at" if result.interrupted else "trained"
    print(
        f"{status} step {result.step}: mean loss of the last {len(tail)} steps "
        f"{float(np.mean(tail)):.4f}; run in {out}"
    )
    if result.interrupted:
        print(
            f"interrupted by {result.interrupted_by} at step {result.step}; "
            f"checkpoint at step {result.checkpoint_step} in {out}; call the same "
            "command again to resume"
        )
    return 130 if result.interrupted else 0
