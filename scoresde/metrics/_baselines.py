r"""Bits-per-dimension baselines for discrete images, in closed form: what a
trained model's held-out bits/dim ([`scoresde.bits_per_dim`][]) must beat."""

import math

import numpy as np
from jaxtyping import ArrayLike

from .._validation import check_int, check_positive


def _check_pixels(name: str, pixels: ArrayLike, num_levels: int) -> np.ndarray:
    arr = np.asarray(pixels, np.float64)
    if arr.ndim < 2 or arr.shape[0] == 0 or arr[0].size == 0:
        raise ValueError(
            f"`{name}` must have shape (n, *data_shape) with n >= 1, got {arr.shape}."
        )
    if (
        not np.all(np.isfinite(arr))
        or not np.all(arr == np.round(arr))
        or arr.min() < 0
        or arr.max() > num_levels - 1
    ):
        raise ValueError(
            f"`{name}` must be integers in [0, {num_levels - 1}] (num_levels="
            f"{num_levels}); pass raw pixels, not data scaled to [-1, 1]."
        )
    return arr.reshape(arr.shape[0], -1)


def uniform_bits_per_dim(num_levels: int) -> float:
    r"""The bits/dim of the uniform model: $\log_2 K$ for $K$ = `num_levels`
    intensity levels ($\log_2 17 = 4.087$ for the digits, 8 for 8-bit images).

    As a dequantised continuous density it is the uniform density on
    $[\text{data\_min} - \delta/2,\ \text{data\_max} + \delta/2]^D$, the union
    of the $K$ bins of width $\delta$; in the convention of
    [`scoresde.bits_per_dim`][] its bits/dim is
    $-(\log(1/(K\delta)) + \log\delta)/\log 2 = \log_2 K$ for every image, and
    no other dequantised model is worse on every image at once. A model that
    does not beat it has learnt nothing.
    """
    num_levels = check_int("num_levels", num_levels, minimum=2)
    return math.log2(num_levels)


def gaussian_bits_per_dim(
    pixels: ArrayLike,
    *,
    train_pixels: ArrayLike,
    num_levels: int,
    data_min: float = -1.0,
    data_max: float = 1.0,
) -> np.ndarray:
    r"""The bits/dim of the per-pixel Gaussian baseline on each image of
    `pixels`: independent Gaussians, one per pixel, fitted by maximum likelihood
    to the *dequantised* `train_pixels`, and scored exactly as
    [`scoresde.bits_per_dim`][] scores a model, in closed form.

    With $\delta = (\text{data\_max} - \text{data\_min})/(K - 1)$, pixel $k$ is
    the data value (bin centre) $c = \text{data\_min} + \delta k$ and its
    dequantised value $y = c + \delta(u - \tfrac12)$, $u \sim U[0, 1)$, is
    uniform on the bin, so $\mathbb{E}\,y = c$ and $\mathrm{Var}\,y = \delta^2/12$.
    The maximum-likelihood Gaussian of pixel $j$ on dequantised training data
    (in expectation over $u$) has

    $$\mu_j = \overline{c_{\cdot j}}, \qquad \sigma_j^2 =
    \overline{(c_{\cdot j} - \mu_j)^2} + \delta^2/12$$

    (so constant pixels, such as the digits' blank borders, keep
    $\sigma_j = \delta/\sqrt{12} > 0$). The expected negative log-density of a
    dequantised test image, $\mathbb{E}_u(y - \mu)^2 = (c - \mu)^2 + \delta^2/12$,
    is exact:

    $$\mathrm{NLL} = \sum_{j=1}^D \frac{(c_j - \mu_j)^2 + \delta^2/12}{2\sigma_j^2}
    + \tfrac12\log(2\pi\sigma_j^2),\qquad
    \text{bits/dim} = \frac{\mathrm{NLL} - D\log\delta}{D\log 2}.$$

    This is the number [`scoresde.bits_per_dim`][] estimates (one draw of $u$
    per image) for this Gaussian's exact score with its exact $p_T$ as prior.

    **Arguments:**

    - `pixels`: the images to score, integers in $0..K-1$, shape
      `(n, *data_shape)` (e.g. `ss.datasets.get("digits", split="test").pixels`).
    - `train_pixels`: the images the Gaussian is fitted to, same data shape.
    - `num_levels`: $K$ (17 for the digits, 256 for 8-bit images).
    - `data_min`, `data_max`: the data values of pixels $0$ and $K-1$.

    **Returns:** bits/dim of each image, a NumPy array `(n,)` (average it for
    the dataset's number).
    """
    num_levels = check_int("num_levels", num_levels, minimum=2)
    check_positive("data_max - data_min", float(data_max) - float(data_min))
    test = _check_pixels("pixels", pixels, num_levels)
    train = _check_pixels("train_pixels", train_pixels, num_levels)
    if test.shape[1] != train.shape[1]:
        raise ValueError(
            f"`pixels` and `train_pixels` must have the same data shape, got "
            f"{np.shape(pixels)[1:]} and {np.shape(train_pixels)[1:]}."
        )
    delta = (float(data_max) - float(data_min)) / (num_levels - 1)
    c_train = float(data_min) + delta * train
    c_test = float(data_min) + delta * test
    mu = c_train.mean(axis=0)
    var = c_train.var(axis=0) + delta**2 / 12.0
    nll = np.sum(
        ((c_test - mu) ** 2 + delta**2 / 12.0) / (2.0 * var)
        + 0.5 * np.log(2.0 * math.pi * var),
        axis=1,
    )
    dims = test.shape[1]
    return (nll - dims * math.log(delta)) / (dims * math.log(2.0))
