"""Make the figure of docs/likelihood.md with the library (run from the repo root:
`python docs/scripts/make_likelihood_figures.py`), and print the prior-mismatch
numbers the page quotes.

The figure: mean absolute error of `ss.log_likelihood` (nats, against the
mixture's analytic log-density, exact score and exact p_T) against the mean
number of vector-field evaluations (NFE), on both mixtures under the VP SDE,
for Tsit5 with tolerances 1e-2 ... 1e-7, Tsit5 and Bosh3 with equal steps,
and the Hutchinson estimator (one Rademacher probe).
"""

from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.ticker


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import scoresde as ss  # noqa: E402


OUT = Path(__file__).resolve().parent.parent / "figures"
TOLERANCES = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6, 1e-7)
FIXED_STEPS = (3, 4, 6, 8, 12, 16, 24)
BOSH3_STEPS = (6, 8, 10, 13, 16, 24, 32)
N = 500


def sweep(mix, sde, **kwargs):
    score_fn = ss.exact_score(mix, sde)
    ys = mix.sample(jax.random.key(0), N)
    true = np.asarray(jax.vmap(mix.log_prob)(ys))
    p_T = mix.marginal(sde, sde.T)
    logp, stats = ss.log_likelihood(
        jax.random.key(1),
        sde,
        score_fn,
        ys,
        prior_log_prob=p_T.log_prob,
        return_stats=True,
        **kwargs,
    )
    err = np.asarray(logp) - true
    return float(jnp.mean(stats["nfe"])), float(np.mean(np.abs(err)))


def kl_to_prior(mix, sde, num=2001):
    """KL(p_T || prior) by quadrature on a grid (1-D or 2-D)."""
    p_T = mix.marginal(sde, sde.T)
    half = 10.0 * float(jnp.sqrt(jnp.max(p_T.variance)))
    axis = np.linspace(-half, half, num if mix.shape[0] == 1 else 801)
    if mix.shape[0] == 1:
        pts = axis[:, None]
        cell = axis[1] - axis[0]
    else:
        gx, gy = np.meshgrid(axis, axis, indexing="ij")
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        cell = (axis[1] - axis[0]) ** 2
    pts = jnp.asarray(pts)
    log_p = jax.vmap(p_T.log_prob)(pts)
    log_q = jax.vmap(sde.prior_log_prob)(pts)
    return float(jnp.sum(jnp.exp(log_p) * (log_p - log_q)) * cell)


def main() -> None:
    sde = ss.VPSDE()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, name in zip(axes, ("mixture-1d", "nine-gaussians")):
        mix = ss.datasets.get(name)
        curves = {
            "exact trace, adaptive (rtol = atol)": [
                sweep(mix, sde, rtol=tol, atol=tol) for tol in TOLERANCES
            ],
            "exact trace, Tsit5 equal steps": [
                sweep(mix, sde, num_steps=k) for k in FIXED_STEPS
            ],
            "exact trace, Bosh3 equal steps": [
                sweep(mix, sde, solver=diffrax.Bosh3(), num_steps=k)
                for k in BOSH3_STEPS
            ],
            "Hutchinson (1 Rademacher probe), adaptive": [
                sweep(mix, sde, rtol=tol, atol=tol, divergence="hutchinson")
                for tol in TOLERANCES
            ],
        }
        for (label, pts), marker in zip(curves.items(), ("o", "s", "D", "^")):
            nfe, err = zip(*pts)
            ax.loglog(nfe, err, marker=marker, label=label)
            print(name, label)
            for a, b in pts:
                print(f"  NFE {a:7.1f}  mean |error| {b:.2e}")
        ax.axhline(1e-3, color="grey", lw=0.8, ls="--")
        ax.axvline(40, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{name}, VP SDE, n = {N}")
        ax.set_xticks([20, 30, 40, 60, 100, 200])
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("NFE (evaluations of the augmented vector field)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean |log p - analytic| (nats)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "likelihood_nfe.png", dpi=90)

    print("KL(p_T || prior), nats:")
    for name in ("mixture-1d", "nine-gaussians"):
        mix = ss.datasets.get(name)
        for label, s in (
            ("VP", ss.VPSDE()),
            ("sub-VP", ss.SubVPSDE()),
            ("VE", ss.VESDE()),
        ):
            print(f"  {name:<15}{label:<8}{kl_to_prior(mix, s):.2e}")


if __name__ == "__main__":
    main()
