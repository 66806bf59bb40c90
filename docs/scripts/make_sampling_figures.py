"""Make the figures of docs/sampling.md with the library (run from the repo root:
`python docs/scripts/make_sampling_figures.py`)."""

from pathlib import Path

import diffrax
import jax

import scoresde as ss


OUT = Path(__file__).resolve().parent.parent / "figures"


def main() -> None:
    mix = ss.datasets.get("mixture-1d")
    key = jax.random.key(0)
    vp = ss.VPSDE()
    ddpm = ss.DDPM.linear(1000, 1e-4, 0.02)
    ncsn = ss.NCSN.geometric(0.01, 20.0, 30)
    cases = {
        "ProbabilityFlowODE (Tsit5), VP": (vp, ss.ProbabilityFlowODE()),
        "ReverseSDE (Euler-Maruyama, 1000), VP": (vp, ss.ReverseSDE()),
        "ReverseSDE (ShARK, 100), VP": (vp, ss.ReverseSDE(diffrax.ShARK(), 100)),
        "PredictorCorrector (500), VP": (vp, ss.PredictorCorrector(500)),
        "Ancestral, DDPM.linear(1000)": (ddpm, ss.Ancestral()),
        "AnnealedLangevin (100 x 30), NCSN": (ncsn, ss.AnnealedLangevin(100, 2e-5)),
    }
    samples = {
        label: ss.sample(
            jax.random.fold_in(key, i),
            sde,
            ss.exact_score(mix, sde),
            num_samples=20_000,
            shape=(1,),
            sampler=sampler,
        )
        for i, (label, (sde, sampler)) in enumerate(cases.items())
    }
    ss.plotting.plot_sampler_histograms(
        samples, mix, path=OUT / "sampling_histograms.png"
    )
    fig = ss.plotting.plot_sde_paths(key, mix, vp, num_times=150)
    # A lower resolution keeps the PNG (a smooth heat map) under 200 KB.
    fig.savefig(OUT / "sampling_paths_vp.png", dpi=80, bbox_inches="tight")


if __name__ == "__main__":
    main()
