"""Section 2: the seed case study's NCSN, DDPM and sub-VP score SDE on nine
Gaussians, each with its loss profile, samples and exact likelihood."""

import time
from pathlib import Path

import jax
import numpy as np

from .._samplers import Ancestral, AnnealedLangevin, DPMSolver
from .._sde import DDPM, NCSN, SubVPSDE
from ..datasets import get
from ._common import (
    Progress,
    Row,
    Settings,
    evaluate,
    loss_and_samples,
    nll,
    sample_with_nfe,
    train_model,
)


DATA = "nine-gaussians"

INTRO = [
    "## 2. The seed case study: nine Gaussians",
    "",
    "Means on the grid {-2, 0, 2}², std 0.25, weights proportional to 1, ..., 9. "
    "Three models, as in the case study, each with its loss profile and its samples "
    "(grey: data). Changes from the case study, each to make the answer right: the "
    "NCSN's largest noise level covers the data's spread (Song & Ermon 2020, "
    "technique 1) and its levels ascend; the DDPM has 1,000 steps so that its last "
    "step is noise ($\\bar\\alpha_N \\approx 4\\cdot10^{-5}$; the case study's 100 "
    "steps ending at $\\beta = 0.02$ leave $\\bar\\alpha_N \\approx 0.35$); the sub-VP "
    "SDE uses $\\beta_\\max = 20$.",
    "",
]

OUTRO = [
    "Likelihoods are exact (probability-flow ODE with the exact divergence). "
    "`ss.log_likelihood` is defined for continuous SDEs only, so the NCSN and DDPM "
    "models are evaluated under their continuous limits "
    "(`sde.continuous_limit()`: VE and VP SDEs through the same noise levels), as "
    "Song et al. (2021) do for DDPM checkpoints.",
    "",
]


def _experiments(cfg: Settings):
    """(name, SDE, sampler, sampler label, figure tag) of each model."""
    return [
        (
            "NCSN",
            NCSN.geometric(0.01, 6.0, 100),
            AnnealedLangevin(steps_per_level=cfg.langevin_per_level),
            "annealed Langevin",
            "ncsn",
        ),
        ("DDPM", DDPM.linear(1000, 1e-4, 0.02), Ancestral(), "ancestral", "ddpm"),
        (
            "sub-VP SDE",
            SubVPSDE(beta_min=0.1, beta_max=20.0),
            DPMSolver(num_steps=20),
            "DPM-Solver++(2M), 20 steps",
            "subvp",
        ),
    ]


def section_nine_gaussians(
    out: Path, key, cfg: Settings, log: Progress
) -> tuple[list[str], list[Row]]:
    mix = get(DATA)
    keys = jax.random.split(key, 12)
    ref = np.asarray(mix.sample(keys[0], cfg.num_samples))
    other = np.asarray(mix.sample(keys[1], cfg.num_samples))
    key_distance, key_nll = keys[10], keys[11]
    rows = [
        evaluate(
            DATA,
            mix,
            ref,
            "true samples (baseline)",
            "exact sampling",
            other,
            0,
            key=key_distance,
        )
    ]
    lines = list(INTRO)
    for i, (name, sde, sampler, sampler_label, tag) in enumerate(_experiments(cfg)):
        log(f"{DATA}: training {name}, {cfg.train_steps} steps")
        start = time.perf_counter()
        result = train_model(keys[2 + i], mix, sde, cfg)
        train_time = time.perf_counter() - start
        model = result.ema_model
        log(f"{DATA}: {cfg.num_samples} samples, {sampler_label}")
        ys, nfe = sample_with_nfe(
            keys[5 + i], sde, model, (2,), cfg.num_samples, sampler
        )
        loss_and_samples(result.losses, ys, ref, name, out / f"nine_{tag}.png")
        log(f"{DATA}: exact likelihood of {cfg.num_likelihood} points")
        rows.append(
            evaluate(
                DATA,
                mix,
                ref,
                name,
                sampler_label,
                ys,
                nfe,
                key=key_distance,
                nll=nll(key_nll, model, mix, cfg),  # the same true points for all
                train_time=train_time,
            )
        )
        lines += [f"### {name} + {sampler_label}", "", f"![{name}](nine_{tag}.png)", ""]
    return lines + OUTRO, rows
