"""Make the figure of docs/training.md with the library (run from the repo root:
`python docs/scripts/make_training_figures.py`): an eps- and a v-model trained on
mixture-1d under the VP SDE, their learned scores against the exact ones, and the
loss curves against the exact irreducible minimum."""

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import scoresde as ss  # noqa: E402


OUT = Path(__file__).resolve().parent.parent / "figures"
STEPS = 4000


def main() -> None:
    mix = ss.datasets.get("mixture-1d")
    sde = ss.VPSDE()
    exact = ss.exact_score(mix, sde)
    data_std = float(jnp.sqrt(mix.variance[0]))
    # The irreducible minimum of the loss, by Monte Carlo with the exact score.
    y0 = mix.sample(jax.random.key(5), 200_000)
    minimum = float(ss.dsm_loss(exact, sde, jax.random.key(6), y0))
    results = {}
    for parameterization in ("eps", "v"):
        net = ss.nets.MLP(mix.shape, key=jax.random.key(0))
        model = ss.ScoreModel(net, sde, parameterization, data_std=data_std)
        results[parameterization] = ss.train(
            model,
            mix,
            key=jax.random.key(1),
            steps=STEPS,
            batch_size=512,
            progress=False,
        )

    times = (0.05, 0.2, 0.5)
    fig, axes = plt.subplots(1, len(times) + 1, figsize=(15, 3.4))
    ys = jnp.linspace(-12, 14, 400)[:, None]
    for ax, t in zip(axes, times):
        ts = jnp.full(ys.shape[0], t)
        ax.plot(ys[:, 0], jax.vmap(exact)(ts, ys)[:, 0], "k", lw=3, label="exact")
        for (name, result), style in zip(results.items(), ("C0--", "C1:")):
            learned = jax.vmap(result.ema_model)(ts, ys)[:, 0]
            ax.plot(ys[:, 0], learned, style, lw=2, label=f"learned ({name})")
        ax.set_title(f"score at t = {t}")
        ax.set_xlabel("y")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    window = 50
    for name, result in results.items():
        smooth = jnp.convolve(result.losses, jnp.ones(window) / window, mode="valid")
        ax.plot(smooth, label=f"{name} (moving mean)")
    ax.axhline(minimum, color="k", ls="--", label="exact minimum")
    ax.set_ylim(minimum - 0.05, minimum + 0.5)
    ax.set_xlabel("step")
    ax.set_title('loss, weighting "score"')
    ax.legend(fontsize=8)
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "training_mixture1d.png", dpi=80)


if __name__ == "__main__":
    main()
