"""Section 1 (continued): trained models and samplers on the seed blog's 1-D
mixture, each checked against the exact oracle."""

import time
from pathlib import Path

import jax
import numpy as np

from .. import plotting
from .._exact import exact_score
from .._samplers import (
    Ancestral,
    DPMSolver,
    ProbabilityFlowODE,
    ReverseSDE,
    langevin,
)
from .._sde import DDPM, VPSDE
from ..datasets import get
from ..metrics import mode_weight_error, mode_weights
from ._common import (
    Progress,
    Row,
    Settings,
    bar_weights,
    evaluate,
    nll,
    sample_with_nfe,
    train_model,
)


DATA = "mixture-1d"
#: The reverse process is drawn at these times.
TIMES = (1.0, 0.75, 0.5, 0.25, 1e-3)


def _trained_rows(keys, mix, ref, cfg: Settings, log: Progress):
    """Train the blog's model and ours; sample each with its samplers. Returns
    rows, the histograms and weights to plot, and the probability-flow paths of
    our trained VP model at `TIMES`."""
    blog_sde = DDPM.linear(num_steps=1000, beta_start=1e-4, beta_end=0.02)
    vp = VPSDE()
    experiments = [
        # (label, SDE, training options, [(sampler label, sampler), ...])
        (
            "DDPM(1000), v-prediction (blog's setting)",
            blog_sde,
            dict(parameterization="v", weighting="v"),
            [("ancestral", Ancestral())],
        ),
        (
            "VP SDE, v-prediction (recommended)",
            vp,
            {},
            [
                ("DPM-Solver++(2M), 20 steps (recommended)", DPMSolver(num_steps=20)),
                ("PF-ODE (Tsit5, tol 1e-5)", ProbabilityFlowODE()),
                (
                    f"reverse SDE (Euler-Maruyama, {cfg.sampler_steps} steps)",
                    ReverseSDE(num_steps=cfg.sampler_steps),
                ),
            ],
        ),
    ]
    rows, hists, weights, trajectory = [], {}, {}, None
    key_nll = keys[0]  # the same true points for every model's likelihood
    for i, (label, sde, options, samplers) in enumerate(experiments):
        key_train, key_sample = jax.random.split(keys[1 + i])
        log(f"{DATA}: training {label}, {cfg.train_steps} steps")
        start = time.perf_counter()
        model = train_model(key_train, mix, sde, cfg, **options).ema_model
        train_time = time.perf_counter() - start
        log(f"{DATA}: exact likelihood of {cfg.num_likelihood} points")
        likelihood = nll(key_nll, model, mix, cfg)
        for j, (sampler_label, sampler) in enumerate(samplers):
            log(f"{DATA}: {len(ref)} samples, {sampler_label}")
            # The probability-flow samples also give the reverse process's figure.
            path = isinstance(sampler, ProbabilityFlowODE)
            ys, nfe = sample_with_nfe(
                jax.random.fold_in(key_sample, j),
                sde,
                model,
                (1,),
                len(ref),
                sampler,
                save_ts=list(TIMES) if path else None,
            )
            if path:
                trajectory, ys = ys, ys[:, -1]
            first = j == 0  # NLL and training time once per model
            rows.append(
                evaluate(
                    DATA,
                    mix,
                    ref,
                    label,
                    sampler_label,
                    ys,
                    nfe,
                    nll=likelihood if first else None,
                    train_time=train_time if first else None,
                )
            )
            short = sampler_label.split(" (")[0]
            hists[f"{label}\n{short}"] = ys
            if first:
                weights[f"{label}, {short}"] = np.asarray(mode_weights(mix, ys))
    return rows, hists, weights, trajectory, vp


def section_mixture_1d(
    out: Path, key, cfg: Settings, log: Progress
) -> tuple[list[str], list[Row]]:
    mix = get(DATA)
    truth = np.asarray(mix.weights)
    keys = jax.random.split(key, 8)
    ref = np.asarray(mix.sample(keys[0], cfg.num_samples))
    other = np.asarray(mix.sample(keys[1], cfg.num_samples))
    rows = [
        evaluate(DATA, mix, ref, "true samples (baseline)", "exact sampling", other, 0)
    ]
    trained, hists, weights, traj, vp = _trained_rows(keys[2:5], mix, ref, cfg, log)
    rows += trained

    # The reverse process of our model (PF-ODE), with the exact p_t over it.
    plotting.plot_marginal_histograms(
        {t: traj[:, i] for i, t in enumerate(TIMES)},
        mix,
        vp,
        title="Reverse process (PF-ODE, trained model)",
        path=out / "reverse_vp.png",
    )

    # Langevin dynamics with the exact data score, as in the blog.
    log(f"{DATA}: Langevin dynamics, {cfg.langevin_steps} steps")
    key_init, key_langevin = jax.random.split(keys[6])
    y_init = jax.random.normal(key_init, (cfg.num_samples, 1))
    ys = np.asarray(
        langevin(
            key_langevin,
            mix.score,
            y_init,
            step_size=1e-2,
            num_steps=cfg.langevin_steps,
        )
    )
    langevin_error = mode_weight_error(mix, ys)
    sampler = f"Langevin (eps = 0.01, {cfg.langevin_steps} steps)"
    rows.append(
        evaluate(DATA, mix, ref, "exact data score", sampler, ys, cfg.langevin_steps)
    )
    weights["Langevin, exact score"] = np.asarray(mode_weights(mix, ys))
    hists["Langevin dynamics\nexact data score"] = ys

    # The sampler alone: the exact score of p_t with the PF-ODE.
    log(f"{DATA}: the exact score of p_t, PF-ODE")
    ys, nfe = sample_with_nfe(
        keys[7], vp, exact_score(mix, vp), (1,), cfg.num_samples, ProbabilityFlowODE()
    )
    rows.append(
        evaluate(
            DATA,
            mix,
            ref,
            "exact score of p_t (oracle)",
            "PF-ODE (Tsit5, tol 1e-5)",
            ys,
            nfe,
        )
    )
    hists["exact score of p_t\nPF-ODE"] = ys

    plotting.plot_sampler_histograms(hists, mix, path=out / "mixture1d_samples.png")
    bar_weights(weights, truth, out / "mixture1d_weights.png")
    return _report(weights, truth, langevin_error), rows


def _report(weights, truth, langevin_error: float) -> list[str]:
    lines = [
        "### Trained models and samplers on the 1-D mixture",
        "",
        "The blog trained a DDPM (1,000 steps, v-prediction) and found the modes in "
        "the right places but with the wrong weights. Here the same setting, our "
        "recommended one (continuous VP SDE, v-prediction with EDM-style "
        "preconditioning, score weighting, sampled with DPM-Solver++ in 20 score "
        "evaluations), Langevin dynamics with the exact data "
        "score, and the exact score of $p_t$ as a control. Mode weights are the mean "
        "posterior responsibility of each component over the samples (unbiased).",
        "",
        "![samples](mixture1d_samples.png)",
        "",
        "![mode weights](mixture1d_weights.png)",
        "",
        "The reverse process of the recommended model (probability-flow ODE), with the "
        "exact $p_t$ drawn over each histogram:",
        "",
        "![reverse process](reverse_vp.png)",
        "",
    ]
    truth_text = np.array2string(truth, precision=2)
    for name, w in weights.items():
        w_text = np.array2string(w, precision=3)
        lines.append(f"- {name}: weights {w_text} (truth {truth_text})")
    lines += [
        "",
        "Plain Langevin dynamics with the exact data score misses the weights (max "
        f"error {langevin_error:.3f} here, from chains started at N(0, 1)): with a "
        "fixed small step the chains rarely cross the low-density valleys between the "
        "modes, so each mode keeps roughly the mass that started in its basin. The "
        "blog's impression that it gets the weights right does not survive a "
        "measurement; annealing the noise (NCSN) or running the reverse SDE is what "
        "fixes it.",
        "",
    ]
    return lines
