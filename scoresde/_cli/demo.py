"""`scoresde demo`: reproduce the seed experiments as figures and a report."""

import argparse
from pathlib import Path

from ._common import FORMATTER, nonneg_int


EPILOG = """examples:
  scoresde demo --out out/demo          (about 4 minutes on 2 CPU cores)
  scoresde demo --out /tmp/d --quick    (tiny settings, for tests)"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="reproduce the seed experiments as figures and a report",
        description="Reproduce the two seed write-ups' experiments, done right: "
        "figures and DIR/report.md.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="PRNG seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    report = run_demo(
        Path(args.out), quick=args.quick, seed=args.seed, progress=not args.quiet
    )
    print(f"wrote {report}")
    return 0
