"""The `scoresde` command line: `train`, `sample`, `impute`, `likelihood`, `plot`,
`demo`.

Every sub-command mirrors the library (`ss.train`, `ss.sample`,
`ss.log_likelihood`, `ss.plotting`, the demo) and lives in a module of its own
here, with the flags it shares with the others given once in `_common` (as
argparse `parents=`) and its name lists read from the library's registries. A
user error (unknown names, missing or unreadable files, data of the wrong
shape, nonsense numbers) is one line on stderr and exit code 2, never a
traceback.
"""

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

from . import demo, impute, likelihood, plot, sample, train
from ._common import FORMATTER, CLIError, Parser, start_processes


#: The sub-commands, in the order `scoresde --help` lists them.
COMMANDS = (train, sample, impute, likelihood, plot, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="scoresde",
        description="Score-based generative modelling with exact SDEs (JAX, "
        "Equinox, Diffrax).",
        epilog="Run `scoresde COMMAND --help` for each command's options and examples.",
        formatter_class=FORMATTER,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def compile_cache_dir() -> Path | None:
    """Where the command line keeps JAX's persistent compilation cache:
    `$SCORESDE_CACHE_DIR`, else `$XDG_CACHE_HOME/scoresde/jax` (default
    `~/.cache/scoresde/jax`); `SCORESDE_CACHE_DIR=""` turns it off.

    JAX does not cache an executable that makes host callbacks (Equinox's
    runtime errors, the progress bar), so `scoresde sample` draws few-step
    samples without either (see `scoresde._runtime_checks`) and a second run of
    the same command reads its sampler from this cache."""
    configured = os.environ.get("SCORESDE_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "scoresde" / "jax"


def _enable_compile_cache() -> None:
    path = compile_cache_dir()
    if path is None:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # an unwritable cache only costs compile time
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@contextlib.contextmanager
def one_line_warnings(command: str):
    """Print each warning as one line on stderr, `scoresde COMMAND: warning: ...`,
    instead of Python's two (the source location and the line that warned)."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(part.strip() for part in str(message).splitlines())
        print(f"scoresde {command}: warning: {text.strip()}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _enable_compile_cache()
    with one_line_warnings(args.command):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if hasattr(args, "process_id"):
            start_processes(args)
        return args.func(args)
    except CLIError as e:
        msg = str(e)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        from .._nonfinite import first_line_of_error

        msg = first_line_of_error(e)
    except KeyboardInterrupt:
        print(f"scoresde {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"scoresde {args.command}: error: {msg}", file=sys.stderr)
    return 2
