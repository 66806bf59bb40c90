"""`scoresde demo`: the main job. It reproduces the experiments of the two seed
write-ups — the blog's 1-D three-Gaussian mixture (a DDPM with v-prediction,
Langevin dynamics, Figure 2 of Song et al. 2021) and the case study's NCSN, DDPM
and sub-VP score SDE on nine Gaussians — done right, and checks every result
against the exact oracle. It writes figures and `report.md` into one folder.

Each section is a module whose function writes its figures and returns report
lines and table rows; `run_demo` strings them together. The library calls are
the same as a user's (`ss.train`, `ss.sample`, `ss.log_likelihood`,
`ss.plotting`).
"""

import time
from pathlib import Path

import jax

from ._common import FULL, QUICK, Progress, table
from .forward import section_forward
from .mixture_1d import section_mixture_1d
from .nine_gaussians import section_nine_gaussians


def run_demo(
    out: str | Path, *, quick: bool = False, seed: int = 0, progress: bool = False
) -> Path:
    """Run the demo, writing figures and `report.md` into `out` (the main job of
    `make demo`). `quick` uses tiny settings (for tests); `progress` prints one
    line per step on stderr. The report is rewritten after each section, so an
    interrupted demo keeps what it finished. Returns the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = QUICK if quick else FULL
    key = jax.random.key(seed)
    log = Progress(progress)
    head = ["# scoresde demo: the seed experiments, done right", ""]
    if quick:
        head += ["_Quick mode: tiny settings, numbers are not meaningful._", ""]
    report = out / "report.md"
    rows, sections = [], []

    def write(done: bool) -> None:
        device = f"{jax.device_count()} {jax.default_backend().upper()} device(s)"
        elapsed = time.perf_counter() - log.start
        state = "Total time" if done else "Unfinished: the demo stopped after"
        body = head + table(rows) + [line for lines in sections for line in lines]
        body += [f"_{state}: {elapsed:.0f} s on {device}._", ""]
        report.write_text("\n".join(body))

    log("section 1: the forward process, every SDE's schedule, Figure 2")
    sections.append(section_forward(out, jax.random.fold_in(key, 0), cfg))
    write(done=False)
    lines, new_rows = section_mixture_1d(out, jax.random.fold_in(key, 1), cfg, log)
    rows += new_rows
    sections.append(lines)
    write(done=False)
    lines, new_rows = section_nine_gaussians(out, jax.random.fold_in(key, 2), cfg, log)
    rows += new_rows
    sections.append(lines)
    write(done=True)
    log(f"done: {report}")
    return report
