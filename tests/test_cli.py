"""The command line: the demo writes its report and figures; errors are one line."""

import subprocess
import sys

import pytest

from scoresde._cli import main


def _run(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "scoresde._cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_quick_writes_report_and_figures(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick"]) == 0
    report = (out / "report.md").read_text()
    for fig in ("forward_vp.png", "forward_ve.png", "schedules.png"):
        assert (out / fig).stat().st_size > 10_000
        assert f"]({fig})" in report


def test_help_for_every_subcommand():
    res = _run("--help")
    assert res.returncode == 0 and "demo" in res.stdout
    res = _run("demo", "--help")
    assert res.returncode == 0 and "example" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["demo"],
        ["demo", "--out", "x", "--seed", "abc"],
    ],
)
def test_bad_usage_is_one_line_and_nonzero(args):
    res = _run(*args)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert (
        res.stderr.strip().splitlines()[-1].startswith(("usage:", "scoresde"))
        or "error" in res.stderr
    )
