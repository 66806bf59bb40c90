"""Make the figures of docs/sdes.md with the library (run from the repo root:
`python docs/scripts/make_sde_figures.py`)."""

from pathlib import Path

import jax

import scoresde as ss


OUT = Path(__file__).resolve().parent.parent / "figures"


def main() -> None:
    mix = ss.datasets.get("mixture-1d")
    key = jax.random.key(0)
    ss.plotting.plot_forward_process(
        key, mix, ss.VPSDE(), path=OUT / "sde_forward_vp.png"
    )
    ss.plotting.plot_schedules(
        {
            "VP (0.1, 20)": ss.VPSDE(),
            "sub-VP (0.1, 20)": ss.SubVPSDE(),
            "VE (0.01, 50)": ss.VESDE(),
            "cosine VP": ss.CosineVPSDE(),
            "DDPM linear, N=1000": ss.DDPM.linear(),
            "NCSN geometric, N=100": ss.NCSN.geometric(0.01, 50.0, 100),
        },
        path=OUT / "sde_schedules.png",
    )


if __name__ == "__main__":
    main()
