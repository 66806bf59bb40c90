r"""The sub-VP SDE of Song et al. (2021, eq. 12)."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import RealScalarLike
from .._validation import check_time
from .base import AbstractSDE
from .vp import check_beta_range, linear_beta, linear_integral_beta


class SubVPSDE(AbstractSDE):
    r"""The sub-variance-preserving SDE of Song et al. (2021, eq. 12):

    $$\mathrm{d}y = -\tfrac12\beta(t)\,y\,\mathrm{d}t
    + \sqrt{\beta(t)\big(1 - e^{-2B(t)}\big)}\,\mathrm{d}w,$$

    with $\beta(t) = \beta_\min + t(\beta_\max - \beta_\min)$ and
    $B(t) = \int_0^t\beta$. Exact kernel: $\text{mean\_coeff} = e^{-B/2}$,
    $\text{std} = 1 - e^{-B}$ — always below the VP SDE's
    $\sqrt{1 - e^{-B}}$. Prior $\mathcal{N}(0, I)$.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def __check_init__(self):
        check_beta_range(self.beta_min, self.beta_max)

    def beta(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""The noise rate $\beta(t)$."""
        return linear_beta(t, self.beta_min, self.beta_max)

    def integral_beta(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""$B(t) = \int_0^t \beta(s)\,\mathrm{d}s$."""
        return linear_integral_beta(t, self.beta_min, self.beta_max)

    def drift_coefficient(self, t: RealScalarLike) -> Float[Array, ""]:
        return -0.5 * self.beta(t)

    def diffusion(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"] | None = None
    ) -> Float[Array, ""]:
        check_time(t, self.T)
        return jnp.sqrt(self.beta(t) * -jnp.expm1(-2.0 * self.integral_beta(t)))

    def marginal(self, t: RealScalarLike) -> tuple[Float[Array, ""], Float[Array, ""]]:
        check_time(t, self.T)
        b = self.integral_beta(t)
        return jnp.exp(-0.5 * b), -jnp.expm1(-b)

    @property
    def prior_std(self) -> RealScalarLike:
        return 1.0
