"""Make the figures of docs/conditional.md with the library and the exact oracle
(run from the repo root: `python docs/scripts/make_conditional_figures.py`)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import scoresde as ss  # noqa: E402


OUT = Path(__file__).resolve().parent.parent / "figures"
SAMPLER = ss.ReverseSDE(num_steps=500)
N = 4000


def correlated_mixture():
    return ss.datasets.GaussianMixture(
        [0.4, 0.2, 0.4], [[-2.0, -2.0], [0.0, 0.0], [2.0, 2.0]], [[1.0, 0.3]] * 3
    )


def guidance_figure(sde):
    nine = ss.datasets.get("nine-gaussians")
    two = ss.datasets.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [1.0, 1.0])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.3))
    labels = np.arange(N) % 9
    ys = np.asarray(
        ss.sample(
            jax.random.key(0),
            sde,
            ss.exact_score(nine, sde),
            num_samples=N,
            shape=(2,),
            sampler=SAMPLER,
            labels=labels,
        )
    )
    ax0.scatter(ys[:, 0], ys[:, 1], s=2, c=labels, cmap="tab10", alpha=0.5)
    theta = np.linspace(0, 2 * np.pi, 100)
    for k in range(9):
        mu = np.asarray(nine.means[k])
        for r in (1, 2):
            ax0.plot(
                mu[0] + 0.25 * r * np.cos(theta),
                mu[1] + 0.25 * r * np.sin(theta),
                "k-",
                lw=0.6,
            )
        ax0.annotate(str(k), mu + 0.55, fontsize=8)
    ax0.set_aspect("equal")
    ax0.set_title(
        "nine-gaussians, one label per sample (w = 0)\n"
        "circles: exact 1 and 2 std of each component"
    )
    score_fn = ss.exact_score(two, sde)
    grid = np.linspace(-4, 6, 400)
    for w, colour in ((0.0, "C0"), (1.0, "C1"), (4.0, "C3")):
        ys = np.asarray(
            ss.sample(
                jax.random.key(1),
                sde,
                score_fn,
                num_samples=N,
                shape=(1,),
                sampler=SAMPLER,
                labels=1,
                guidance=w,
            )
        )
        ax1.hist(
            ys[:, 0],
            bins=80,
            range=(-4, 6),
            density=True,
            histtype="step",
            color=colour,
            label=f"class 1, w = {w:g}",
        )
    # the exact class densities p_0(y | k) = N(y; mu_k, sigma_k^2)
    log_joint = jax.vmap(two.component_log_probs)(jnp.asarray(grid)[:, None])
    density = np.exp(np.asarray(log_joint) - np.log(np.asarray(two.weights)))
    ax1.plot(grid, density[:, 1], "k--", lw=1.2, label="exact class 1 (w = 0)")
    ax1.plot(grid, density[:, 0], ":", color="grey", lw=1.2, label="class 0")
    ax1.set_title("two overlapping classes: guidance moves class 1\naway from class 0")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "conditional_guidance.png", dpi=110)
    plt.close(fig)


def imputation_figure(sde):
    mix = correlated_mixture()
    score_fn = ss.exact_score(mix, sde)
    mask = np.array([True, False])
    xs = (1.0, 2.5)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    data = np.asarray(mix.sample(jax.random.key(5), 4000))
    axes[0].scatter(data[:, 0], data[:, 1], s=2, alpha=0.3, color="grey")
    for x in xs:
        axes[0].axvline(x, color="C3", lw=1)
    axes[0].set_title("correlated mixture; observe x (red), impute y")
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("y")
    grid = np.linspace(-4, 4, 400)
    for ax, x in zip(axes[1:], xs):
        observed = np.tile(np.array([x, np.nan]), (N, 1))
        cond = mix.condition(mask, [x])
        density = np.exp(jax.vmap(cond.log_prob)(jnp.asarray(grid)[:, None]))
        for method, colour in (("replacement", "C0"), ("reconstruction", "C1")):
            ys = np.asarray(
                ss.impute(
                    jax.random.key(2),
                    sde,
                    score_fn,
                    observed,
                    mask,
                    sampler=SAMPLER,
                    method=method,
                )
            )
            ax.hist(
                ys[:, 1],
                bins=100,
                range=(-4, 4),
                density=True,
                histtype="step",
                color=colour,
                label=method,
            )
        ax.plot(grid, density, "k--", lw=1.2, label="exact p(y | x)")
        ax.set_title(f"y given x = {x:g}")
        ax.set_xlabel("y")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "conditional_imputation.png", dpi=110)
    plt.close(fig)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    sde = ss.VPSDE()
    guidance_figure(sde)
    imputation_figure(sde)


if __name__ == "__main__":
    main()
