"""What every command of the command line shares: the one-line error, the
argument types, the shared flags (as argparse `parents=`), flags generated from
a registry, and loading arrays and runs."""

import argparse
import math
from pathlib import Path
from typing import Any

from .._registry import Registry


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


FORMATTER = argparse.RawDescriptionHelpFormatter


# ----------------------------------------------------------------- arg types
def number(convert, ok, allowed: str):
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


positive_int = number(int, lambda v: v >= 1, "a positive integer")
nonneg_int = number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = number(
    float, lambda v: math.isfinite(v) and v > 0, "a positive finite number"
)
unit_float = number(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _param_type(convert):
    """An argparse type from a registry parameter's converter: positive numbers
    for `int`/`float`, the converter's own message otherwise."""
    if convert is int:
        return positive_int
    if convert is float:
        return positive_float

    def parse(text: str):
        try:
            return convert(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


# ------------------------------------------------------------ shared flags
def common_flags(seed_help: str = "PRNG seed (default 0)") -> argparse.ArgumentParser:
    """`--seed` and `--quiet`, shared by the commands as an argparse parent."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--seed", type=nonneg_int, default=0, help=seed_help)
    parent.add_argument("--quiet", action="store_true", help="no progress bar")
    return parent


def process_flags() -> argparse.ArgumentParser:
    """`--coordinator HOST:PORT --num-processes N --process-id I` (an argparse
    parent of `train`, `sample`, `likelihood`): every process of a multi-process
    run gives the same command with its own `--process-id`."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "several processes (all three flags, or none: then a SLURM or Open MPI "
        "job with several tasks is detected, and a plain run is one process)"
    )
    group.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="address of process 0, where the coordinator listens "
        "(e.g. 127.0.0.1:12355 on one machine)",
    )
    group.add_argument(
        "--num-processes", type=positive_int, help="how many processes in all"
    )
    group.add_argument(
        "--process-id", type=nonneg_int, help="this process's id, 0..N-1"
    )
    return parent


def start_processes(args: argparse.Namespace) -> None:
    """Join the other processes before anything touches a device: with the three
    process flags through the coordinator, else through a detected cluster job;
    a plain run stays one process. Bad flags are a `CLIError`."""
    from .. import _distributed

    given = [
        flag
        for flag, value in (
            ("--coordinator", args.coordinator),
            ("--num-processes", args.num_processes),
            ("--process-id", args.process_id),
        )
        if value is not None
    ]
    what = f"scoresde {args.command}"
    if not given:
        _distributed.auto_initialize(what=what)
        return
    if len(given) < 3:
        raise CLIError(
            "--coordinator, --num-processes and --process-id go together (all three "
            f"or none); got only {', '.join(given)}"
        )
    try:
        _distributed.check_address(args.coordinator)
    except ValueError as e:
        raise CLIError(f"--coordinator: {e}") from None
    if args.process_id >= args.num_processes:
        raise CLIError(
            f"--process-id must lie in 0..{args.num_processes - 1} for "
            f"--num-processes {args.num_processes}, got {args.process_id}"
        )
    _distributed.initialize(
        args.coordinator, args.num_processes, args.process_id, what=what
    )


def run_dir_flag() -> argparse.ArgumentParser:
    """The positional RUN_DIR of `sample`, `likelihood` (an argparse parent)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run directory written by `scoresde train`"
    )
    return parent


def data_flags(help_text: str, required: bool = True) -> argparse.ArgumentParser:
    """`--data FILE` and `--data-key NAME` (an argparse parent)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--data", required=required, help=help_text)
    parent.add_argument("--data-key", help="the array's name inside an .npz file")
    return parent


def add_registry_params(parser: Any, registry: Registry) -> None:
    """On `parser` (a parser or an argument group), one flag per distinct
    parameter of `registry`'s entries, default `None`
    (meaning: that entry's own default), with each entry's default in the help."""
    flags: dict[str, list] = {}
    for entry in registry:
        for p in entry.params:
            flags.setdefault(p.flag, []).append((entry.name, p))
    for flag, uses in flags.items():
        _, first = uses[0]
        defaults = ", ".join(
            f"{name}: {p.default}" for name, p in uses if p.default is not None
        )
        parser.add_argument(
            flag,
            dest=flag[2:].replace("-", "_"),
            type=_param_type(first.type),
            help=f"{first.help} (default {defaults or 'the class default'})",
        )


def registry_kwargs(registry: Registry, name: str, args: argparse.Namespace) -> dict:
    """The keyword arguments for `registry[name].build` from the command line's
    flags: each of the entry's parameters, the flag's value or the entry's
    default (parameters whose value is `None` are left out)."""
    kwargs = {}
    for p in registry[name].params:
        value = getattr(args, p.flag[2:].replace("-", "_"), None)
        value = p.default if value is None else value
        if value is not None:
            kwargs[p.name] = value
    return kwargs


def unused_params(registry: Registry, name: str, args: argparse.Namespace) -> list:
    """The registry flags given on the command line that entry `name` ignores."""
    used = {p.flag for p in registry[name].params}
    given = []
    for entry in registry:
        for p in entry.params:
            value = getattr(args, p.flag[2:].replace("-", "_"), None)
            if p.flag not in used and value is not None and p.flag not in given:
                given.append(p.flag)
    return given


# ------------------------------------------------------------------ loading
def load_array(path: str, key: str | None = None):
    """A finite real array `(n, ...)` from a `.npy`/`.npz` file (1-D becomes
    `(n, 1)`), as float32; any problem is a `CLIError` naming the file."""
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
    elif key is not None:
        raise CLIError(f"--data-key applies to .npz files; {p} holds one array")
    arr = np.asarray(loaded)
    if arr.ndim == 0:
        raise CLIError(f"{p} holds a single number, not samples of shape (n, ...)")
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


def write_source(run_dir: Path, source: dict[str, Any]) -> None:
    """Record where a run's data came from (for `sample --plot`, `likelihood`'s
    exact comparison and `--bits-per-dim`), in the run directory's config."""
    from .._rundir import record_source

    record_source(run_dir, source)


def load_run(run_dir: str):
    """`(ss.load(run_dir), source)`; a missing or damaged run is a `CLIError`."""
    import scoresde as ss

    from .._rundir import read_source

    p = Path(run_dir)
    if not p.is_dir():
        raise CLIError(
            f"run directory {p} does not exist (make one with `scoresde train --out {p}`)"
        )
    try:
        run = ss.load(p)
    except ss.CheckpointError as e:
        raise CLIError(str(e)) from None
    return run, read_source(p)


def reference_samples(info: dict[str, Any], key, n: int):
    """True data to compare with, when the run was trained on a named vector
    dataset; else `None`."""
    import numpy as np

    import scoresde as ss

    name = info.get("dataset")
    if name in ss.datasets.NAMES:
        data = ss.datasets.get(name)
        if len(data.shape) == 1:
            return np.asarray(data.sample(key, n))
    return None


def output_file(path: str, flag: str = "--out", npy: bool = True) -> Path:
    """The file written for `path` (with `npy`, the `.npy` file of `save_array`:
    NumPy adds `.npy`), checked before any work: not a directory, and its folder
    can be made (it is made)."""
    out = Path(path)
    if npy and out.suffix != ".npy":
        out = out.with_name(out.name + ".npy")
    for candidate in (Path(path), out):
        if candidate.is_dir():
            raise CLIError(
                f"{flag} {candidate} is a directory; give a file name such as "
                f"{candidate / 'out.npy'}"
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(
            f"{flag} {out}: cannot create its folder {out.parent}: {e.strerror or e}"
        ) from None
    return out


def save_array(path: str, array) -> Path:
    """Save `array` as `.npy` at `path` (`.npy` added when missing), creating its
    folder; returns the file written."""
    import numpy as np

    out = output_file(path)
    try:
        np.save(out, array)
    except OSError as e:
        raise CLIError(f"cannot write {out}: {e.strerror or e}") from None
    return out
