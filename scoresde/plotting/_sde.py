"""Figures of the forward process: histograms of p_t and the SDEs' schedules."""

from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._custom_types import KeyArray
from .._sde import AbstractDiscreteSDE, AbstractSDE
from .._validation import check_int
from ..datasets import AbstractDataset, GaussianMixture


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def forward_samples(
    key: KeyArray,
    data: AbstractDataset,
    sde: AbstractSDE,
    times: Sequence[float],
    num_samples: int,
) -> np.ndarray:
    """Draw `y_0 ~ data` once and push it through the exact kernel to each time:
    returns an array `(len(times), num_samples, *shape)` of `y_t = m(t) y_0 + s(t) z`."""
    key_data, key_noise = jax.random.split(key)
    y0 = data.sample(key_data, num_samples)
    out = []
    for i, t in enumerate(times):
        m, s = sde.marginal(t)
        z = jax.random.normal(jax.random.fold_in(key_noise, i), y0.shape)
        out.append(np.asarray(m * y0 + s * z))
    return np.stack(out)


def plot_forward_process(
    key: KeyArray,
    data: AbstractDataset,
    sde: AbstractSDE,
    *,
    times: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    num_samples: int = 10_000,
    bins: int = 100,
    path: str | Path | None = None,
) -> Figure:
    """Histograms of the forward process $y_t$ at several times for 1-D data, with
    the exact density $p_t$ drawn over them when `data` is a
    [`scoresde.datasets.GaussianMixture`][] (the seed blog's first figure, done
    with the exact kernel rather than a scheduler).

    **Arguments:**

    - `key`: PRNG key.
    - `data`: a 1-D dataset, e.g. `ss.datasets.get("mixture-1d")`.
    - `sde`: the forward SDE.
    - `times`: the times to show, in $[0, T]$.
    - `num_samples`, `bins`: histogram settings.
    - `path`: if given, the figure is also saved there (PNG).

    **Returns:** the matplotlib `Figure`.
    """
    if data.shape != (1,):
        raise ValueError(
            f"plot_forward_process needs 1-D data (shape (1,)), got {data.shape}."
        )
    num_samples = check_int("num_samples", num_samples, minimum=1)
    ys = forward_samples(key, data, sde, times, num_samples)
    fig = Figure(figsize=(8, 1.7 * len(times)))
    axes = fig.subplots(nrows=len(times), sharex=True)
    axes = np.atleast_1d(axes)
    lo, hi = np.percentile(ys, [0.1, 99.9])
    grid = jnp.linspace(lo, hi, 400)[:, None]
    for ax, t, y in zip(axes, times, ys):
        ax.hist(
            y[:, 0],
            bins=bins,
            range=(lo, hi),
            density=True,
            color="C0",
            alpha=0.6,
            label="samples",
        )
        if isinstance(data, GaussianMixture):
            dens = jnp.exp(jax.vmap(data.marginal(sde, t).log_prob)(grid))
            ax.plot(grid[:, 0], dens, color="C3", lw=1.5, label="exact $p_t$")
        m, s = sde.marginal(t)
        ax.set_title(
            f"t = {t:g}   (mean_coeff = {float(m):.3g}, std = {float(s):.3g})",
            fontsize=9,
        )
        ax.set_yticks([])
    axes[0].legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("$y_t$")
    fig.suptitle(f"Forward process under {type(sde).__name__}", y=1.0)
    fig.tight_layout()
    return _save(fig, path)


def plot_schedules(
    sdes: Mapping[str, AbstractSDE],
    *,
    num_points: int = 400,
    path: str | Path | None = None,
) -> Figure:
    """`std(t)` and `mean_coeff(t)` of the exact kernels of several SDEs, side by side
    (std on a log scale, since VE's spans several decades).

    **Arguments:**

    - `sdes`: a mapping from a label to an SDE.
    - `num_points`: points on $[0, T]$.
    - `path`: if given, the figure is also saved there.
    """
    ts = jnp.linspace(0.0, 1.0, num_points)
    fig = Figure(figsize=(10, 3.6))
    ax_m, ax_s = fig.subplots(ncols=2)
    for i, (label, sde) in enumerate(sdes.items()):
        m, s = jax.vmap(sde.marginal)(ts)
        # discrete SDEs dashed: they sit on their continuous limits
        style = "--" if isinstance(sde, AbstractDiscreteSDE) else "-"
        ax_m.plot(ts, m, style, label=label, color=f"C{i}")
        ax_s.plot(ts[1:], s[1:], style, label=label, color=f"C{i}")
    ax_m.set(title="mean_coeff(t)", xlabel="t")
    ax_s.set(title="std(t)", xlabel="t", yscale="log")
    ax_s.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
