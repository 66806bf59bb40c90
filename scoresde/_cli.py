"""The `scoresde` command line."""

import sys


def main(argv=None) -> int:
    print("scoresde: command line under construction", file=sys.stderr)
    return 2
