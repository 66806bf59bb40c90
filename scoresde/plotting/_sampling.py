"""Figures of sampling: samplers' histograms against the exact density, and the
forward, reverse-SDE and probability-flow paths over the density of $p_t$
(Figure 2 of Song et al. 2021)."""

from collections.abc import Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from .._custom_types import KeyArray
from .._exact import exact_score
from .._sample import sample
from .._samplers import ProbabilityFlowODE, ReverseSDE
from .._sde import AbstractSDE
from .._validation import check_int
from ..datasets import GaussianMixture
from ._sde import _save


def _check_1d(mixture, name):
    if not isinstance(mixture, GaussianMixture) or mixture.shape != (1,):
        raise ValueError(
            f"{name} needs a 1-D scoresde.datasets.GaussianMixture, got "
            f"{type(mixture).__name__} of shape {getattr(mixture, 'shape', None)}."
        )


def plot_sampler_histograms(
    samples: Mapping[str, ArrayLike],
    mixture: GaussianMixture,
    *,
    bins: int = 120,
    ncols: int = 3,
    path: str | Path | None = None,
) -> Figure:
    """One histogram per sampler, each with the exact density of `mixture` drawn
    over it and the mode weights the samples carry (mean posterior
    responsibility) against the true weights.

    **Arguments:**

    - `samples`: a mapping from a label to samples of shape `(n, 1)`.
    - `mixture`: the 1-D [`scoresde.datasets.GaussianMixture`][] they should
      follow.
    - `bins`, `ncols`: histogram bins and panels per row.
    - `path`: if given, the figure is also saved there (PNG).

    **Returns:** the matplotlib `Figure`.
    """
    _check_1d(mixture, "plot_sampler_histograms")
    if not samples:
        raise ValueError("`samples` must hold at least one entry.")
    ncols = min(check_int("ncols", ncols, minimum=1), len(samples))
    nrows = -(-len(samples) // ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.6 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows=nrows, ncols=ncols, sharex=True)).ravel()
    lo = float(jnp.min(mixture.means - 4 * mixture.stds))
    hi = float(jnp.max(mixture.means + 4 * mixture.stds))
    grid = jnp.linspace(lo, hi, 500)[:, None]
    density = jnp.exp(jax.vmap(mixture.log_prob)(grid))
    true_w = np.asarray(mixture.weights)
    for ax, (label, ys) in zip(axes, samples.items()):
        ys = jnp.asarray(ys)
        weights = np.asarray(jnp.mean(jax.vmap(mixture.responsibilities)(ys), axis=0))
        ax.hist(
            np.asarray(ys)[:, 0],
            bins=bins,
            range=(lo, hi),
            density=True,
            color="C0",
            alpha=0.6,
        )
        ax.plot(grid[:, 0], density, color="C3", lw=1.2)
        err = np.max(np.abs(weights - true_w))
        ax.set_title(f"{label}\nmax weight error {err:.3f}", fontsize=8)
        ax.set_yticks([])
    for ax in axes[len(samples) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def sampling_paths(
    key: KeyArray,
    mixture: GaussianMixture,
    sde: AbstractSDE,
    *,
    num_paths: int = 12,
    num_times: int = 200,
    t_eps: float = 1e-3,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Paths for a Figure-2-style plot, on the time grid `ts` from $t_\\epsilon$ to
    $T$ (ascending): the forward SDE from data (exact transition kernels between
    grid times), the reverse-time SDE and the probability-flow ODE from the prior,
    both with the exact score.

    **Returns:** `(ts, paths)` with `paths` mapping `"forward"`, `"reverse-sde"`,
    `"pf-ode"` to arrays of shape `(num_paths, num_times)`.
    """
    _check_1d(mixture, "sampling_paths")
    num_paths = check_int("num_paths", num_paths, minimum=1)
    num_times = check_int("num_times", num_times, minimum=2)
    ts = np.linspace(t_eps, sde.T, num_times)
    key_data, key_fwd, key_rev, key_ode = jax.random.split(key, 4)
    # Forward: y_{t'} = r y_t + G z with r = m(t')/m(t), G^2 = s(t')^2 - r^2 s(t)^2.
    m0, s0 = sde.marginal(ts[0])
    y = m0 * mixture.sample(key_data, num_paths)[:, 0]
    y = y + s0 * jax.random.normal(jax.random.fold_in(key_fwd, 0), y.shape)
    forward = [y]
    for i in range(1, num_times):
        m_a, s_a = sde.marginal(ts[i - 1])
        m_b, s_b = sde.marginal(ts[i])
        r = m_b / m_a
        g = jnp.sqrt(jnp.maximum(s_b**2 - (r * s_a) ** 2, 0.0))
        y = r * y + g * jax.random.normal(jax.random.fold_in(key_fwd, i), y.shape)
        forward.append(y)
    score_fn = exact_score(mixture, sde)
    common = dict(num_samples=num_paths, shape=(1,), t_eps=t_eps, save_ts=ts)
    reverse = sample(
        key_rev,
        sde,
        score_fn,
        sampler=ReverseSDE(num_steps=num_times - 1, denoise=False),
        **common,
    )
    ode = sample(key_ode, sde, score_fn, sampler=ProbabilityFlowODE(), **common)
    paths = {
        "forward": np.asarray(jnp.stack(forward, axis=1)),
        "reverse-sde": np.asarray(reverse[..., 0]),
        "pf-ode": np.asarray(ode[..., 0]),
    }
    return ts, paths


def plot_sde_paths(
    key: KeyArray,
    mixture: GaussianMixture,
    sde: AbstractSDE,
    *,
    num_paths: int = 12,
    num_times: int = 200,
    t_eps: float = 1e-3,
    path: str | Path | None = None,
) -> Figure:
    """A Figure-2-style plot (Song et al. 2021) for 1-D data: three panels over the
    heat map of the exact density $p_t(y)$ — forward SDE paths from data to
    noise, reverse-time SDE paths and probability-flow ODE paths from noise to
    data (both with the exact score). See [`scoresde.plotting.sampling_paths`][].

    **Arguments:**

    - `key`: PRNG key.
    - `mixture`: a 1-D [`scoresde.datasets.GaussianMixture`][].
    - `sde`: the forward SDE.
    - `num_paths`, `num_times`: paths per panel and time points per path.
    - `t_eps`: the smallest time shown.
    - `path`: if given, the figure is also saved there (PNG).

    **Returns:** the matplotlib `Figure`.
    """
    ts, paths = sampling_paths(
        key, mixture, sde, num_paths=num_paths, num_times=num_times, t_eps=t_eps
    )
    spread = max(float(np.percentile(np.abs(p), 99.5)) for p in paths.values())
    ygrid = np.linspace(-1.05 * spread, 1.05 * spread, 300)
    tgrid = jnp.asarray(np.linspace(t_eps, sde.T, 150))

    def density_at(t):
        return jnp.exp(jax.vmap(mixture.marginal(sde, t).log_prob)(ygrid[:, None]))

    density = np.asarray(jax.vmap(density_at)(tgrid)).T
    fig = Figure(figsize=(12, 3.4))
    axes = fig.subplots(ncols=3, sharey=True)
    titles = {
        "forward": "forward SDE (data to noise)",
        "reverse-sde": "reverse-time SDE (noise to data)",
        "pf-ode": "probability-flow ODE (noise to data)",
    }
    for ax, (name, p) in zip(axes, paths.items()):
        ax.imshow(
            density,
            origin="lower",
            aspect="auto",
            extent=(float(tgrid[0]), float(tgrid[-1]), ygrid[0], ygrid[-1]),
            cmap="Blues",
            norm=PowerNorm(0.4),
        )
        for row in p:
            ax.plot(ts, row, color="C1", lw=0.8, alpha=0.9)
        ax.set(title=titles[name], xlabel="t", xlim=(ts[0], ts[-1]))
    axes[0].set_ylabel("y")
    fig.suptitle(f"Paths over the exact density $p_t$ under {type(sde).__name__}")
    fig.tight_layout()
    return _save(fig, path)
