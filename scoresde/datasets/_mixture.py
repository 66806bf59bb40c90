r"""Gaussian mixtures with diagonal covariances: the exact oracle."""

import math
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._custom_types import ArrayInput, KeyArray, RealScalarLike, default_float
from .._validation import check_int, is_concrete
from ._base import AbstractLabelledDataset


if TYPE_CHECKING:
    from .._sde import AbstractSDE


class GaussianMixture(AbstractLabelledDataset):
    r"""A mixture of $K$ Gaussians in $d$ dimensions with diagonal covariances,

    $$p(y) = \sum_{k=1}^K w_k\, \mathcal{N}\big(y;\ \mu_k,\ \mathrm{diag}(\sigma_k^2)\big),$$

    with exact sampling, log-density and score. It is a labelled dataset: the
    component $k$ a sample was drawn from is its class label
    ([`scoresde.datasets.GaussianMixture.sample_with_labels`][]), so a
    class-conditional model can be trained on it and checked against the exact
    per-component score (`ss.exact_score(mix, sde)(t, y, k)`). Under any linear SDE its
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

    @property
    def num_classes(self) -> int:
        """The number of classes: one per component, $K$."""
        return self.means.shape[0]

    def sample_with_labels(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "n d"], Int[Array, " n"]]:
        r"""Draw `n` exact samples and the component each came from: shapes `(n, d)`
        and `(n,)`. The component is drawn with probabilities `weights`, then the
        sample from $\mathcal{N}(\mu_k, \mathrm{diag}\,\sigma_k^2)$; `sample(key, n)`
        returns the same samples without the labels."""
        n = check_int("n", n, minimum=1)
        key_k, key_z = jax.random.split(key)
        ks = jax.random.categorical(key_k, jnp.log(self.weights), shape=(n,))
        z = jax.random.normal(key_z, (n, self.shape[0]), self.means.dtype)
        return self.means[ks] + self.stds[ks] * z, ks.astype(jnp.int32)

    def component_log_probs(self, y: Float[ArrayLike, " d"]) -> Float[Array, " K"]:
        r"""$\log w_k + \log\mathcal{N}(y; \mu_k, \mathrm{diag}\,\sigma_k^2)$ for each
        $k$: the joint log-density of `y` and component $k$."""
        y = jnp.asarray(y)
        if y.shape != self.shape:
            raise ValueError(
                f"`y` must be ONE sample of shape {self.shape} (the mixture's "
                f"dimension), got shape {y.shape}; make batches with jax.vmap."
            )
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

    def condition(self, mask: ArrayInput, values: ArrayInput) -> "GaussianMixture":
        r"""The exact conditional law of the unobserved coordinates given the
        observed ones: again a Gaussian mixture.

        Write $o$ for the observed coordinates (`mask` True) and $u$ for the
        others. Each component has a diagonal covariance, so given the component
        $y_u$ and $y_o$ are independent and

        $$p(y_u \mid y_o = v) = \sum_k \tilde w_k\,
        \mathcal{N}\big(y_u;\ \mu_{k,u},\ \mathrm{diag}\,\sigma_{k,u}^2\big),
        \qquad \tilde w_k \propto w_k\,
        \mathcal{N}\big(v;\ \mu_{k,o},\ \mathrm{diag}\,\sigma_{k,o}^2\big):$$

        the components keep their unobserved marginals, and their weights are the
        posterior $p(k \mid y_o = v)$. Component $k$ of the result is component $k$
        of this mixture (the labels keep their meaning). The new weights are
        computed with a softmax and floored at the smallest normal float, so an
        observation far from a component gives it a negligible but positive weight.

        **Arguments:**

        - `mask`: booleans of shape `(d,)`, True where a coordinate is observed; at
          least one coordinate must be unobserved. (A mask with nothing observed
          gives back this mixture.)
        - `values`: the observed values, either shape `(d,)` (entries where `mask`
          is False are ignored) or one value per observed coordinate, in order.

        **Returns:**

        A [`scoresde.datasets.GaussianMixture`][] in the `d_u` unobserved
        coordinates, in their original order.

        !!! example

            ```python
            import scoresde as ss

            mix = ss.datasets.get("nine-gaussians")
            cond = mix.condition([True, False], [1.0, 0.0])   # y given x = 1
            cond.weights      # mass split between the columns x = 0 and x = 2
            ```
        """
        d = self.shape[0]
        mask_np = _check_mask(mask, d)
        obs = np.flatnonzero(mask_np)
        unobs = np.flatnonzero(~mask_np)
        values = jnp.asarray(values, self.means.dtype)
        if values.shape == (d,):
            v = values[obs]
        elif values.shape == (obs.size,):
            v = values
        else:
            raise ValueError(
                f"`values` must have shape (d,) = ({d},) or one value per observed "
                f"coordinate ({obs.size},), got {values.shape}."
            )
        if is_concrete(v) and not bool(jnp.all(jnp.isfinite(v))):
            raise ValueError(f"`values` must be finite, got {np.asarray(v).tolist()}.")
        if obs.size == 0:
            return GaussianMixture(self.weights, self.means, self.stds)
        z = (v[None, :] - self.means[:, obs]) / self.stds[:, obs]
        log_lik = -jnp.sum(jnp.log(self.stds[:, obs]), axis=1) - 0.5 * jnp.sum(
            z**2, axis=1
        )
        weights = jax.nn.softmax(jnp.log(self.weights) + log_lik)
        weights = jnp.maximum(weights, jnp.finfo(weights.dtype).tiny)
        return GaussianMixture(weights, self.means[:, unobs], self.stds[:, unobs])


def _check_mask(mask, d: int) -> np.ndarray:
    """A concrete boolean mask of shape `(d,)` with at least one False entry."""
    if not is_concrete(mask):
        raise TypeError("`mask` must be concrete (not traced): it fixes shapes.")
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(
            f"`mask` must be booleans (True = observed), got dtype {arr.dtype}."
        )
    if arr.shape != (d,):
        raise ValueError(
            f"`mask` must have shape (d,) = ({d},), one entry per coordinate, got "
            f"{arr.shape}."
        )
    if arr.all():
        raise ValueError(
            "`mask` observes every coordinate, so nothing is left unobserved; at "
            "least one entry must be False."
        )
    return arr


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
