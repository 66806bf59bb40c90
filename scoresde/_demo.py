"""`scoresde demo`: the main job, reproducing the seed experiments as figures and a
report. Each section is a function writing its figures into the output folder and
returning the report's lines."""

import time
from pathlib import Path

import jax

from . import plotting
from ._sde import DDPM, NCSN, VESDE, VPSDE, CosineVPSDE, SubVPSDE
from .datasets import get


def _section_sdes(out: Path, key, quick: bool) -> list[str]:
    """The forward process of mixture-1d under VP (exact p_t over histograms) and
    every SDE's schedule."""
    mix = get("mixture-1d")
    n = 2_000 if quick else 20_000
    plotting.plot_forward_process(
        key, mix, VPSDE(), num_samples=n, path=out / "forward_vp.png"
    )
    plotting.plot_forward_process(
        key,
        mix,
        VESDE(sigma_min=0.01, sigma_max=50.0),
        num_samples=n,
        path=out / "forward_ve.png",
    )
    plotting.plot_schedules(
        {
            "VP (0.1, 20)": VPSDE(),
            "sub-VP (0.1, 20)": SubVPSDE(),
            "VE (0.01, 50)": VESDE(),
            "cosine VP": CosineVPSDE(),
            "DDPM linear, N=1000": DDPM.linear(),
            "NCSN geometric, N=100": NCSN.geometric(0.01, 50.0, 100),
        },
        path=out / "schedules.png",
    )
    return [
        "## The forward process (exact kernels)",
        "",
        "Histograms of $y_t = m(t) y_0 + s(t) z$ for the seed blog's mixture "
        "(weights 0.3 / 0.1 / 0.6, means -5 / 0 / 6, stds 1 / 0.5 / 2), with the exact "
        "marginal density $p_t$ drawn over them.",
        "",
        "![forward process under VP](forward_vp.png)",
        "",
        "![forward process under VE](forward_ve.png)",
        "",
        "Every SDE's `mean_coeff(t)` and `std(t)`; the discrete DDPM and NCSN (dashed) "
        "sit on their continuous limits.",
        "",
        "![schedules](schedules.png)",
        "",
    ]


def run_demo(out: str | Path, *, quick: bool = False, seed: int = 0) -> Path:
    """Run the demo, writing figures and `report.md` into `out`. Returns the report's
    path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(seed)
    start = time.perf_counter()
    lines = ["# scoresde demo", ""]
    lines += _section_sdes(out, jax.random.fold_in(key, 0), quick)
    lines += [f"_Total time: {time.perf_counter() - start:.1f} s._", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
