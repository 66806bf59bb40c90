"""Sample-quality metrics with exact definitions: mode weights by posterior
responsibility, the 1-D Wasserstein-1 distance and the sliced Wasserstein distance."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import KeyArray
from .._validation import check_int, is_concrete
from ..datasets import GaussianMixture


def mode_weights(mixture: GaussianMixture, ys: ArrayLike) -> Float[Array, " K"]:
    r"""The weight the samples `ys` `(n, d)` give each of the mixture's components,
    estimated as the mean posterior responsibility
    $\hat w_k = \frac1n\sum_i p(k \mid y_i)$.

    Unlike assigning each sample to its most likely component, this estimate is
    unbiased where components overlap: if $y_i \sim p$ exactly, then
    $\mathbb{E}[p(k\mid y_i)] = w_k$.
    """
    ys = _as_samples("ys", ys, mixture.shape)
    return jnp.mean(jax.vmap(mixture.responsibilities)(ys), axis=0)


def mode_weight_error(mixture: GaussianMixture, ys: ArrayLike) -> float:
    """The largest absolute error $\\max_k |\\hat w_k - w_k|$ of
    [`scoresde.metrics.mode_weights`][] against the mixture's true weights."""
    return float(jnp.max(jnp.abs(mode_weights(mixture, ys) - mixture.weights)))


def wasserstein_1d(xs: ArrayLike, ys: ArrayLike) -> float:
    r"""The exact Wasserstein-1 distance between the empirical distributions of two
    1-D samples, $W_1 = \int |F_x(u) - F_y(u)|\,\mathrm{d}u$ (any sizes; arrays of
    shape `(n,)` or `(n, 1)`)."""
    x = np.sort(_as_1d("xs", xs))
    y = np.sort(_as_1d("ys", ys))
    grid = np.sort(np.concatenate([x, y]))
    fx = np.searchsorted(x, grid[:-1], side="right") / x.size
    fy = np.searchsorted(y, grid[:-1], side="right") / y.size
    return float(np.sum(np.abs(fx - fy) * np.diff(grid)))


def sliced_wasserstein(
    key: KeyArray, xs: ArrayLike, ys: ArrayLike, *, num_projections: int = 256
) -> float:
    r"""The sliced Wasserstein-1 distance between two samples `(n, d)` and `(m, d)`:
    the mean over `num_projections` random unit directions $\theta$ of
    [`scoresde.metrics.wasserstein_1d`][] between the projections
    $\langle\theta, x\rangle$ and $\langle\theta, y\rangle$. Directions come from
    `key`, so two calls with the same key are comparable."""
    num_projections = check_int("num_projections", num_projections, minimum=1)
    x = np.asarray(xs, np.float64)
    y = np.asarray(ys, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"`xs` and `ys` must have shapes (n, d) and (m, d), got {x.shape} and {y.shape}."
        )
    theta = np.asarray(
        jax.random.normal(key, (num_projections, x.shape[1])), np.float64
    )
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    return float(np.mean([wasserstein_1d(x @ th, y @ th) for th in theta]))


def _as_1d(name: str, a: ArrayLike) -> np.ndarray:
    arr = np.asarray(a, np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must have shape (n,) or (n, 1) with n >= 1, got {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"`{name}` must be finite; it holds {int(np.sum(~np.isfinite(arr)))} "
            "NaN or inf values."
        )
    return arr


def _as_samples(name: str, a: ArrayLike, shape: tuple[int, ...]) -> Array:
    arr = jnp.asarray(a)
    if (
        arr.ndim != 1 + len(shape)
        or tuple(arr.shape[1:]) != tuple(shape)
        or arr.shape[0] < 1
    ):
        raise ValueError(
            f"`{name}` must have shape (n, {', '.join(map(str, shape))}) with n >= 1, "
            f"got {arr.shape}."
        )
    if is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(
            f"`{name}` must be finite; it holds {int(jnp.sum(~jnp.isfinite(arr)))} "
            "NaN or inf values."
        )
    return arr
