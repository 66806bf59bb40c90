"""The exact score of a Gaussian mixture diffused by an SDE."""

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import RealScalarLike
from ._sde import AbstractSDE
from .datasets import GaussianMixture


class ExactScore(eqx.Module):
    r"""The exact score function $(t, y) \mapsto \nabla_y \log p_t(y)$ of a
    Gaussian mixture's marginal $p_t$ under a linear SDE. Made by
    [`scoresde.exact_score`][]; a pytree, so it goes through `jit` and `vmap`."""

    mixture: GaussianMixture
    sde: AbstractSDE

    def __call__(
        self, t: RealScalarLike, y: Float[ArrayLike, " d"]
    ) -> Float[Array, " d"]:
        return self.mixture.marginal(self.sde, t).score(y)

    def log_prob(
        self, t: RealScalarLike, y: Float[ArrayLike, " d"]
    ) -> Float[Array, ""]:
        r"""The exact $\log p_t(y)$."""
        return self.mixture.marginal(self.sde, t).log_prob(y)


def exact_score(mixture: GaussianMixture, sde: AbstractSDE) -> ExactScore:
    r"""The exact score of `mixture` diffused by `sde`:

    $$\nabla_y \log p_t(y) = \sum_k p_t(k \mid y)\,
    \frac{m(t)\mu_k - y}{m(t)^2\sigma_k^2 + s(t)^2},$$

    with $(m, s)$ = `sde.marginal(t)`. The responsibilities are a softmax, so the
    score is finite for `y` far from every mode and for `t` near 0 (where it
    tends to the data's own score).

    **Arguments:**

    - `mixture`: a [`scoresde.datasets.GaussianMixture`][].
    - `sde`: any SDE of scoresde.

    **Returns:**

    A score function `score_fn(t, y)` taking one sample `y` of shape `(d,)`, to use
    anywhere a trained model's score would go (samplers, likelihoods, losses).

    !!! example

        ```python
        import jax.numpy as jnp
        import scoresde as ss

        mix = ss.datasets.get("mixture-1d")
        score_fn = ss.exact_score(mix, ss.VPSDE())
        score_fn(0.5, jnp.array([1.0]))
        ```
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(
            f"`mixture` must be a scoresde.datasets.GaussianMixture, got "
            f"{type(mixture).__name__}."
        )
    if not isinstance(sde, AbstractSDE):
        raise TypeError(
            f"`sde` must be a scoresde SDE (an AbstractSDE), got {type(sde).__name__}."
        )
    return ExactScore(mixture, sde)
