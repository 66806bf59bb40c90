"""Figures of a trained run: samples against the data, and the loss curve."""

from pathlib import Path

import numpy as np
from jaxtyping import ArrayLike
from matplotlib.figure import Figure

from ._sde import _save


def plot_samples(
    samples: ArrayLike,
    *,
    reference: ArrayLike | None = None,
    density: tuple[ArrayLike, ArrayLike] | None = None,
    title: str | None = None,
    ax=None,
    path: str | Path | None = None,
) -> Figure:
    """Samples against the data: a histogram for 1-D samples `(n, 1)` (with the
    `reference` data's histogram and an exact `density` curve `(grid, values)` if
    given), a scatter plot for 2-D samples `(n, 2)` (beside the reference).

    **Arguments:**

    - `samples`: shape `(n, 1)` or `(n, 2)` (or `(n,)`).
    - `reference`: optional true data of the same dimension.
    - `density`: optional `(grid, values)` of the exact density (1-D).
    - `title`: the axes' title.
    - `ax`: draw into these matplotlib axes instead of a new figure.
    - `path`: if given, save the figure there.
    """
    ys = np.asarray(samples, np.float64)
    if ys.ndim == 1:
        ys = ys[:, None]
    if ys.ndim != 2 or ys.shape[1] not in (1, 2):
        raise ValueError(f"`samples` must have shape (n, 1) or (n, 2), got {ys.shape}.")
    ref = None
    if reference is not None:
        ref = np.asarray(reference, np.float64)
        if ref.ndim == 1 and ys.shape[1] == 1:
            ref = ref[:, None]
        if ref.ndim != 2 or ref.shape[1] != ys.shape[1]:
            raise ValueError(
                f"`reference` must have the samples' dimension, shape (m, "
                f"{ys.shape[1]}), got {ref.shape}."
            )
    if ax is None:
        fig = Figure(figsize=(6, 4) if ys.shape[1] == 1 else (5, 5))
        ax = fig.subplots()
    else:
        fig = ax.figure
    if ys.shape[1] == 1:
        both = ys[:, 0] if ref is None else np.concatenate([ys[:, 0], ref[:, 0]])
        lo, hi = np.percentile(both, [0.05, 99.95])
        if ref is not None:
            ax.hist(
                ref[:, 0],
                bins=120,
                range=(lo, hi),
                density=True,
                color="0.7",
                label="data",
            )
        ax.hist(
            ys[:, 0],
            bins=120,
            range=(lo, hi),
            density=True,
            histtype="step",
            color="C0",
            lw=1.5,
            label="samples",
        )
        if density is not None:
            grid, values = density
            ax.plot(
                np.asarray(grid).reshape(-1),
                np.asarray(values),
                color="C3",
                lw=1.2,
                label="exact density",
            )
        ax.set_yticks([])
        ax.legend(fontsize=8, loc="upper left")
    else:
        if ref is not None:
            ax.scatter(
                ref[:, 0],
                ref[:, 1],
                s=2,
                color="0.7",
                alpha=0.5,
                label="data",
                rasterized=True,
            )
        ax.scatter(
            ys[:, 0],
            ys[:, 1],
            s=2,
            color="C0",
            alpha=0.5,
            label="samples",
            rasterized=True,
        )
        ax.set_aspect("equal")
        ax.legend(fontsize=8, loc="upper left", markerscale=4)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_loss(
    losses: ArrayLike,
    *,
    window: int = 50,
    title: str | None = None,
    ax=None,
    path: str | Path | None = None,
) -> Figure:
    """The loss of every training step (light) and its running mean over `window`
    steps (dark), on a log scale when the loss is positive."""
    losses = np.asarray(losses, np.float64).reshape(-1)
    if losses.size == 0:
        raise ValueError("`losses` is empty: nothing to plot.")
    if ax is None:
        fig = Figure(figsize=(6, 3.5))
        ax = fig.subplots()
    else:
        fig = ax.figure
    steps = np.arange(losses.size)
    ax.plot(steps, losses, color="C0", alpha=0.3, lw=0.8)
    w = max(1, min(window, losses.size))
    smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
    ax.plot(steps[w - 1 :], smooth, color="C0", lw=1.5, label=f"mean of {w} steps")
    if np.all(losses > 0):
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="loss", title=title or "Loss profile")
    ax.legend(fontsize=8)
    return _save(fig, path)
