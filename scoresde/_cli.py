"""The `scoresde` command line. Errors are one line on stderr and a non-zero exit."""

import argparse
import sys
from pathlib import Path


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    report = run_demo(Path(args.out), quick=args.quick, seed=args.seed)
    print(f"wrote {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scoresde",
        description="Score-based generative modelling with exact SDEs (JAX).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser(
        "demo",
        help="reproduce the seed experiments as figures and a report",
        description="Reproduce the seed experiments: figures and DIR/report.md.",
        epilog="example: scoresde demo --out out/demo",
    )
    demo.add_argument("--out", required=True, help="output folder")
    demo.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    demo.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as e:
        print(f"scoresde {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError, OSError) as e:
        print(f"scoresde {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"scoresde {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
