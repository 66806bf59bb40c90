r"""The variance-preserving family: $\mathrm{d}y = -\tfrac12\beta(t)\,y\,\mathrm{d}t
+ \sqrt{\beta(t)}\,\mathrm{d}w$."""

import abc

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import RealScalarLike
from .._validation import check_time
from .base import AbstractSDE


class AbstractVPSDE(AbstractSDE):
    r"""A variance-preserving SDE (Song et al. 2021, eq. 11), given by its noise
    rate $\beta(t) \ge 0$:

    $$\mathrm{d}y = -\tfrac12 \beta(t)\, y\,\mathrm{d}t + \sqrt{\beta(t)}\,\mathrm{d}w.$$

    With $B(t) = \int_0^t \beta(s)\,\mathrm{d}s$ its exact kernel is
    $\text{mean\_coeff} = e^{-B(t)/2}$ and $\text{std} = \sqrt{1 - e^{-B(t)}}$,
    so $\bar\alpha(t) = e^{-B(t)}$ in DDPM's notation. The prior is
    $\mathcal{N}(0, I)$.

    Subclasses implement `beta(t)` and `integral_beta(t)`.
    """

    @abc.abstractmethod
    def beta(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""The noise rate $\beta(t)$."""

    @abc.abstractmethod
    def integral_beta(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""$B(t) = \int_0^t \beta(s)\,\mathrm{d}s$."""

    def alpha_bar(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""$\bar\alpha(t) = e^{-B(t)} = \text{mean\_coeff}(t)^2$."""
        return jnp.exp(-self.integral_beta(t))

    def drift_coefficient(self, t: RealScalarLike) -> Float[Array, ""]:
        return -0.5 * self.beta(t)

    def diffusion(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"] | None = None
    ) -> Float[Array, ""]:
        check_time(t, self.T)
        return jnp.sqrt(self.beta(t))

    def marginal(self, t: RealScalarLike) -> tuple[Float[Array, ""], Float[Array, ""]]:
        check_time(t, self.T)
        b = self.integral_beta(t)
        # -expm1(-b) keeps std accurate for small t, where 1 - exp(-b) cancels.
        return jnp.exp(-0.5 * b), jnp.sqrt(-jnp.expm1(-b))

    @property
    def prior_std(self) -> RealScalarLike:
        return 1.0
