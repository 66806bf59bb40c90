r"""Outliers: samples far from every component of a Gaussian mixture."""

import numpy as np
from jaxtyping import ArrayLike

from .._validation import check_positive
from ..datasets import GaussianMixture


def outlier_fraction(
    mixture: GaussianMixture, ys: ArrayLike, threshold: float = 6.0
) -> float:
    r"""The fraction of the samples `ys` `(n, d)` that lie more than `threshold`
    standard deviations from **every** component of `mixture`.

    The distance of $y$ to component $k$ is its Mahalanobis distance under that
    component's own (diagonal) covariance,

    $$D_k(y) = \Big(\sum_{j=1}^d \frac{(y_j - \mu_{kj})^2}{\sigma_{kj}^2}\Big)^{1/2},$$

    and $y$ is an outlier when $\min_k D_k(y) > \tau$, with $\tau$ = `threshold`
    (strictly: a sample at exactly $\tau$ from its nearest component is not one).
    Samples that are not finite (NaN or infinite) count as outliers.

    Mode weights and (sliced) Wasserstein distances barely move when a few
    samples in a thousand land far away; this count sees them. For exact samples
    from the mixture the expected fraction is at most
    $P(\chi^2_d > \tau^2)$ (the chance that a draw from its own component is
    that far): $2\times10^{-9}$ for $d = 1$ and $1.5\times10^{-8}$ for $d = 2$ at
    $\tau = 6$, so in low dimensions any outlier at all is a defect of the
    sampler or the score. In $d$ dimensions a true sample is typically
    $\sqrt d$ standard deviations from its mean, so choose $\tau$ well above
    $\sqrt d$.

    **Arguments:**

    - `mixture`: the reference [`scoresde.datasets.GaussianMixture`][]
      (its stds `(K,)` or `(K, d)` give each component's covariance).
    - `ys`: the samples, shape `(n, d)` with $n \ge 1$.
    - `threshold`: $\tau > 0$, in standard deviations (default 6.0).

    **Returns:** the fraction in $[0, 1]$, a Python float (computed in float64).

    !!! example

        ```python
        import jax
        import scoresde as ss

        mix = ss.datasets.get("nine-gaussians")
        ys = mix.sample(jax.random.key(0), 20_000)
        ss.metrics.outlier_fraction(mix, ys)             # 0.0
        ```
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(
            "`mixture` must be a scoresde.datasets.GaussianMixture, got "
            f"{type(mixture).__name__}."
        )
    check_positive("threshold", threshold)
    y = np.asarray(ys, np.float64)
    d = mixture.shape[0]
    if y.ndim != 2 or y.shape[1] != d or y.shape[0] == 0:
        raise ValueError(f"`ys` must have shape (n, {d}) with n >= 1, got {y.shape}.")
    means = np.asarray(mixture.means, np.float64)
    stds = np.asarray(mixture.stds, np.float64)
    # Squared distances (n, K), compared squared so that a sample at exactly
    # `threshold` standard deviations is not rounded across the boundary.
    z2 = np.sum(((y[:, None, :] - means[None]) / stds[None]) ** 2, axis=-1)
    nearest = np.min(z2, axis=1)
    outlier = ~(nearest <= float(threshold) ** 2)  # NaN compares False: an outlier
    return float(np.mean(outlier))
