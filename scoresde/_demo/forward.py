"""Section 1: the forward process of the seed blog's 1-D mixture, every SDE's
schedule, and Figure 2 of Song et al. (2021)."""

from pathlib import Path

import jax

from .. import plotting
from .._sde import DDPM, NCSN, VESDE, VPSDE, CosineVPSDE, SubVPSDE
from ..datasets import get
from ._common import Settings


def section_forward(out: Path, key, cfg: Settings) -> list[str]:
    mix = get("mixture-1d")
    plotting.plot_forward_process(
        key, mix, VPSDE(), num_samples=cfg.num_samples, path=out / "forward_vp.png"
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
    plotting.plot_sde_paths(
        jax.random.fold_in(key, 1), mix, VPSDE(), path=out / "figure2_vp.png"
    )
    return [
        "## 1. The seed blog: a 1-D mixture of three Gaussians",
        "",
        "Weights 0.3 / 0.1 / 0.6, means -5 / 0 / 6, stds 1 / 0.5 / 2. The forward "
        "process, pushed through the exact VP kernel, with the exact marginal density "
        "$p_t$ drawn over the histograms (the blog used a scheduler's `add_noise`):",
        "",
        "![forward process under VP](forward_vp.png)",
        "",
        "Every SDE's `mean_coeff(t)` and `std(t)`; the discrete DDPM and NCSN (dashed) "
        "sit on their continuous limits:",
        "",
        "![schedules](schedules.png)",
        "",
        "Figure 2 of Song et al. (2021) for this distribution: forward SDE paths over the "
        "exact density of $p_t$, reverse-time SDE paths and probability-flow ODE paths "
        "(exact score):",
        "",
        "![Figure 2](figure2_vp.png)",
        "",
    ]
