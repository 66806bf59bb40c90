"""Run the full demo into docs/demo/ (its report and figures become the site's
"Demo report" page). Run from the repo root: `python docs/scripts/make_demo_docs.py`
(about as long as `make demo`)."""

from pathlib import Path

from scoresde._demo import run_demo


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "demo"
    print(run_demo(out, progress=True))
