r"""Gaussian mixtures with diagonal covariances: the exact oracle."""

import math
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ArrayInput, KeyArray, RealScalarLike, default_float
from .._validation import check_int, is_concrete
from ._base import AbstractDataset


if TYPE_CHECKING:
    from .._sde import AbstractSDE


class GaussianMixture(AbstractDataset):
    r"""A mixture of $K$ Gaussians in $d$ dimensions with diagonal covariances,

    $$p(y) = \sum_{k=1}^K w_k\, \mathcal{N}\big(y;\ \mu_k,\ \mathrm{diag}(\sigma_k^2)\big),$$

    with exact sampling, log-density and score. Under any linear SDE its
    marginal at time $t$ is again such a mixture,
    $p_t = \sum_k w_k \mathcal{N}\big(m(t)\mu_k,\ \mathrm{diag}(m(t)^2\sigma_k^2
    + s(t)^2)\big)$ with $(m, s)$ = `sde.marginal(t)` — see
    [`scoresde.datasets.GaussianMixture.marginal`][] and [`scoresde.exact_score`][].

    **Arguments:**

    - `weights`: shape `(K,)`, positive; normalised to sum to 1.
    - `means`: shape `(K, d)` (for 1-D data pass `means[:, None]`).
    - `stds`: shape `(K,)` (isotropic per component) or `(K, d)`; positive.

    Methods are per-sample: `log_prob(y)` and `score(y)` take one `y` of shape
    `(d,)`; batch with `jax.vmap`.

    !!! example

        ```python
        import jax
        import scoresde as ss

        mix = ss.datasets.GaussianMixture(
            weights=[0.3, 0.1, 0.6], means=[[-5.0], [0.0], [6.0]], stds=[1.0, 0.5, 2.0]
        )
        ys = mix.sample(jax.random.key(0), 1000)          # (1000, 1)
        logp = jax.vmap(mix.log_prob)(ys)                  # (1000,)
        p_half = mix.marginal(ss.VPSDE(), 0.5)             # exact p_t at t = 0.5
        ```
    """

    weights: Float[Array, " K"]
    means: Float[Array, "K d"]
    stds: Float[Array, "K d"]

    def __init__(
        self,
        weights: ArrayInput,
        means: ArrayInput,
        stds: ArrayInput,
    ):
        dtype = default_float()
        if is_concrete((weights, means, stds)):
            weights, means, stds = _check_mixture(weights, means, stds)
        weights = jnp.asarray(weights, dtype)
        means = jnp.asarray(means, dtype)
        stds = jnp.asarray(stds, dtype)
        if stds.ndim == 1:
            stds = jnp.broadcast_to(stds[:, None], means.shape)
        self.weights = weights / jnp.sum(weights)
        self.means = means
        self.stds = stds

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.means.shape[1],)

    @property
    def num_components(self) -> int:
        """$K$, the number of components."""
        return self.means.shape[0]

    @property
    def mean(self) -> Float[Array, " d"]:
        r"""The mixture's mean $\sum_k w_k \mu_k$."""
        return self.weights @ self.means

    @property
    def variance(self) -> Float[Array, " d"]:
        r"""The mixture's per-coordinate variance
        $\sum_k w_k(\sigma_k^2 + \mu_k^2) - (\sum_k w_k\mu_k)^2$."""
        second = self.weights @ (self.stds**2 + self.means**2)
        return second - self.mean**2

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n d"]:
        """Draw `n` exact samples, shape `(n, d)`."""
        return self.sample_with_components(key, n)[0]

    def sample_with_components(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "n d"], Array]:
        """Like `sample`, also returning each sample's component index `(n,)`."""
        n = check_int("n", n, minimum=1)
        key_k, key_z = jax.random.split(key)
        ks = jax.random.categorical(key_k, jnp.log(self.weights), shape=(n,))
        z = jax.random.normal(key_z, (n, self.shape[0]), self.means.dtype)
        return self.means[ks] + self.stds[ks] * z, ks

    def component_log_probs(self, y: Float[ArrayLike, " d"]) -> Float[Array, " K"]:
        r"""$\log w_k + \log\mathcal{N}(y; \mu_k, \mathrm{diag}\,\sigma_k^2)$ for each
        $k$: the joint log-density of `y` and component $k$."""
        y = jnp.asarray(y)
        z = (y[None, :] - self.means) / self.stds
        d = self.shape[0]
        log_norm = -jnp.sum(jnp.log(self.stds), axis=1) - 0.5 * d * math.log(
            2 * math.pi
        )
        return jnp.log(self.weights) + log_norm - 0.5 * jnp.sum(z**2, axis=1)

    def log_prob(self, y: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        """The exact log-density $\\log p(y)$ of one sample `y` of shape `(d,)`."""
        return jax.nn.logsumexp(self.component_log_probs(y))

    def responsibilities(self, y: Float[ArrayLike, " d"]) -> Float[Array, " K"]:
        r"""The posterior $p(k \mid y)$ of each component, shape `(K,)`. Their mean
        over samples is an unbiased estimate of the weights the samples carry."""
        return jax.nn.softmax(self.component_log_probs(y))

    def score(self, y: Float[ArrayLike, " d"]) -> Float[Array, " d"]:
        r"""The exact score $\nabla_y \log p(y) = \sum_k p(k\mid y)\,
        (\mu_k - y)/\sigma_k^2$, computed with a softmax so that it stays finite
        for `y` far from every mode."""
        y = jnp.asarray(y)
        r = self.responsibilities(y)
        return jnp.sum(r[:, None] * (self.means - y[None, :]) / self.stds**2, axis=0)

    def marginal(self, sde: "AbstractSDE", t: RealScalarLike) -> "GaussianMixture":
        r"""The exact marginal $p_t$ of data from this mixture diffused by `sde` to
        time `t`: a mixture with the same weights, means $m\mu_k$ and stds
        $\sqrt{m^2\sigma_k^2 + s^2}$, where $(m, s)$ = `sde.marginal(t)`."""
        mean_coeff, std = sde.marginal(t)
        return GaussianMixture(
            self.weights,
            mean_coeff * self.means,
            jnp.sqrt((mean_coeff * self.stds) ** 2 + std**2),
        )


def _check_mixture(weights, means, stds):
    w = np.asarray(weights, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64)
    s = np.asarray(stds, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"`weights` must have shape (K,) with K >= 1, got {w.shape}.")
    k = w.shape[0]
    if m.ndim != 2 or m.shape[0] != k or m.shape[1] == 0:
        hint = " For 1-D data pass means[:, None]." if m.shape == (k,) else ""
        raise ValueError(
            f"`means` must have shape (K, d) = ({k}, d) to match `weights`, got "
            f"{m.shape}.{hint}"
        )
    if s.shape not in ((k,), m.shape):
        raise ValueError(
            f"`stds` must have shape (K,) = ({k},) or (K, d) = {m.shape}, got {s.shape}."
        )
    for name, arr in (("weights", w), ("means", m), ("stds", s)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite, got {arr.tolist()}.")
    if not np.all(w > 0):
        raise ValueError(f"`weights` must be > 0, got {w.tolist()}.")
    if not np.all(s > 0):
        raise ValueError(f"`stds` must be > 0, got {s.tolist()}.")
    return w, m, s
