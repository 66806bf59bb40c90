"""Figures of images: a grid of samples and the reverse process as a strip."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from jaxtyping import ArrayLike
from matplotlib.figure import Figure

from .._validation import check_int
from ._sde import _save


def _to_display(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> (n, H, W) or (n, H, W, 3) in [0, 1]."""
    x = np.clip((images + 1.0) / 2.0, 0.0, 1.0)
    if x.shape[1] == 1:
        return x[:, 0]
    return np.transpose(x, (0, 2, 3, 1))


def _check_images(name: str, images: ArrayLike, ndim: int, what: str) -> np.ndarray:
    x = np.asarray(images, np.float64)
    if x.ndim != ndim or x.shape[-3] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(
            f"`{name}` must have shape {what} with C = 1 or 3, got {x.shape}."
        )
    return x


def plot_image_grid(
    images: ArrayLike,
    *,
    ncols: int = 8,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """A grid of images `(n, C, H, W)` on the data scale $[-1, 1]$ (grey-scale
    for $C = 1$, colour for $C = 3$; values outside are clipped), `ncols` per
    row, as samples are usually shown.

    **Arguments:**

    - `images`: shape `(n, C, H, W)`, e.g. `ss.sample(...)` of an image model.
    - `ncols`: images per row (default 8).
    - `title`: the figure's title.
    - `path`: if given, save the figure there.
    """
    x = _check_images("images", images, 4, "(n, C, H, W)")
    ncols = min(check_int("ncols", ncols, minimum=1), x.shape[0])
    nrows = -(-x.shape[0] // ncols)
    disp = _to_display(x)
    fig = Figure(figsize=(1.0 * ncols, 1.0 * nrows + (0.4 if title else 0.0)))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, img in zip(axes, disp):
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_image_strip(
    paths: ArrayLike,
    times: Sequence[float],
    *,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The reverse process of a few images: `paths` of shape
    `(n, len(times), C, H, W)` (what [`scoresde.sample`][] returns with
    `save_ts=times`) drawn as one row per image and one column per time, from
    noise at $t = T$ on the left to data on the right.

    **Arguments:**

    - `paths`: shape `(n, k, C, H, W)`.
    - `times`: the `k` times of the columns (labels; sorted descending for
      display).
    - `title`: the figure's title.
    - `path`: if given, save the figure there.
    """
    x = _check_images("paths", paths, 5, "(n, k, C, H, W)")
    times = np.asarray(times, np.float64).reshape(-1)
    if times.shape[0] != x.shape[1]:
        raise ValueError(
            f"`times` must have {x.shape[1]} entries (one per column of `paths`), "
            f"got {times.shape[0]}."
        )
    order = np.argsort(-times)
    n, k = x.shape[:2]
    fig = Figure(figsize=(1.0 * k, 1.0 * n + 0.5))
    axes = fig.subplots(n, k, squeeze=False)
    for i in range(n):
        disp = _to_display(x[i][order])
        for j in range(k):
            ax = axes[i, j]
            ax.imshow(disp[j], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"t = {times[order][j]:.2g}", fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
