"""The exact score of a Gaussian mixture diffused by an SDE."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._custom_types import RealScalarLike
from ._sde import AbstractSDE
from ._validation import is_concrete
from .datasets import GaussianMixture


class ExactScore(eqx.Module):
    r"""The exact score function $(t, y) \mapsto \nabla_y \log p_t(y)$ of a
    Gaussian mixture's marginal $p_t$ under a linear SDE, and, given a label $k$,
    the exact score of component $k$'s marginal $p_t(\cdot \mid k)$ (a
    class-conditional score function whose classes are the components). Made by
    [`scoresde.exact_score`][]; a pytree, so it goes through `jit` and `vmap`."""

    mixture: GaussianMixture
    sde: AbstractSDE

    @property
    def num_classes(self) -> int:
        """The number of classes: the mixture's components $K$. Label $K$ (or
        `None`) is the null label: the whole mixture."""
        return self.mixture.num_components

    def __call__(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, " d"],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, " d"]:
        r"""The exact score at time `t` of one sample `y` `(d,)`: of the whole
        mixture's $p_t$ for `label=None` (or the null label $K$), of component
        `label`'s $p_t(\cdot \mid k) = \mathcal{N}\big(m\mu_k,\
        \mathrm{diag}(m^2\sigma_k^2 + s^2)\big)$ for `label` in $0..K-1$, that is
        $(m\mu_k - y)/(m^2\sigma_k^2 + s^2)$."""
        p_t = self.mixture.marginal(self.sde, t)
        if label is None:
            return p_t.score(y)
        k = _check_label(label, self.num_classes)
        y = jnp.asarray(y)
        index = jnp.minimum(k, self.num_classes - 1)
        component = (p_t.means[index] - y) / p_t.stds[index] ** 2
        return jnp.where(k == self.num_classes, p_t.score(y), component)

    def log_prob(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, " d"],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, ""]:
        r"""The exact $\log p_t(y)$, or $\log p_t(y \mid k)$ for `label` $k$."""
        p_t = self.mixture.marginal(self.sde, t)
        if label is None:
            return p_t.log_prob(y)
        k = _check_label(label, self.num_classes)
        joint = p_t.component_log_probs(y) - jnp.log(p_t.weights)
        return jnp.where(
            k == self.num_classes,
            p_t.log_prob(y),
            joint[jnp.minimum(k, self.num_classes - 1)],
        )


def _check_label(label, num_classes: int) -> Array:
    """An integer label in `0..num_classes` (the last one is the null label): a
    `ValueError` for a concrete label out of range, `eqx.error_if` for a traced
    one."""
    k = jnp.asarray(label)
    if k.ndim != 0 or not jnp.issubdtype(k.dtype, jnp.integer):
        raise TypeError(
            f"`label` must be a scalar integer (or None), got {k.dtype} of shape "
            f"{k.shape}."
        )
    if is_concrete(label):
        if not 0 <= int(np.asarray(label)) <= num_classes:
            raise ValueError(
                f"`label` must lie in 0..{num_classes - 1} (or be {num_classes} or "
                f"None for the whole mixture), got {int(np.asarray(label))}."
            )
        return k
    return eqx.error_if(
        k,
        (k < 0) | (k > num_classes),
        f"`label` out of range: labels lie in 0..{num_classes - 1} "
        f"({num_classes} = the whole mixture).",
    )


def exact_score(mixture: GaussianMixture, sde: AbstractSDE) -> ExactScore:
    r"""The exact score of `mixture` diffused by `sde`:

    $$\nabla_y \log p_t(y) = \sum_k p_t(k \mid y)\,
    \frac{m(t)\mu_k - y}{m(t)^2\sigma_k^2 + s(t)^2},$$

    with $(m, s)$ = `sde.marginal(t)`. The responsibilities are a softmax, so the
    score is finite for `y` far from every mode and for `t` near 0 (where it
    tends to the data's own score).

    It is also the exact class-conditional score when the mixture's components are
    the classes: called with a label $k \in 0..K-1$ it returns the $k$-th term's
    own score $(m\mu_k - y)/(m^2\sigma_k^2 + s^2)$, and with `None` or $K$ (the
    null label) the whole mixture's. So classifier-free guidance
    ([`scoresde.sample`][] with `guidance`) can be checked against exact answers.

    **Arguments:**

    - `mixture`: a [`scoresde.datasets.GaussianMixture`][].
    - `sde`: any SDE of scoresde.

    **Returns:**

    A score function `score_fn(t, y, label=None)` taking one sample `y` of shape
    `(d,)`, to use anywhere a trained model's score would go (samplers,
    likelihoods, losses).

    !!! example

        ```python
        import jax.numpy as jnp
        import scoresde as ss

        mix = ss.datasets.get("mixture-1d")
        score_fn = ss.exact_score(mix, ss.VPSDE())
        score_fn(0.5, jnp.array([1.0]))        # the mixture's score
        score_fn(0.5, jnp.array([1.0]), 2)     # component 2's score
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
