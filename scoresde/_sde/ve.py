r"""The variance-exploding SDE of Song et al. (2021, eq. 9)."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import RealScalarLike
from .._validation import check_less, check_positive, check_time
from .base import AbstractSDE


class VESDE(AbstractSDE):
    r"""The variance-exploding SDE of Song et al. (2021, eq. 9), the continuous
    limit of NCSN, with $\sigma(t) = \sigma_\min(\sigma_\max/\sigma_\min)^t$:

    $$\mathrm{d}y = \sqrt{\frac{\mathrm{d}\sigma^2(t)}{\mathrm{d}t}}\,\mathrm{d}w
    = \sigma(t)\sqrt{2\log(\sigma_\max/\sigma_\min)}\,\mathrm{d}w.$$

    Exact kernel from time 0: $\text{mean\_coeff} = 1$ and
    $\text{std}^2 = \sigma(t)^2 - \sigma_\min^2$ — the process starts at $y_0$
    with no noise, so $\text{std}(0) = 0$, not $\sigma_\min$ (the official
    score_sde code uses $\sigma(t)$ itself, which is the kernel only
    approximately). The prior is $\mathcal{N}(0, \sigma_\max^2 I)$.
    """

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def __check_init__(self):
        check_positive("sigma_min", self.sigma_min)
        check_positive("sigma_max", self.sigma_max)
        check_less("sigma_min", self.sigma_min, "sigma_max", self.sigma_max)

    def sigma(self, t: RealScalarLike) -> Float[Array, ""]:
        r"""$\sigma(t) = \sigma_\min(\sigma_\max/\sigma_\min)^t$."""
        t = jnp.asarray(t, jnp.result_type(float))
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift_coefficient(self, t: RealScalarLike) -> Float[Array, ""]:
        return jnp.zeros((), jnp.result_type(float))

    def diffusion(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"] | None = None
    ) -> Float[Array, ""]:
        check_time(t, self.T)
        return self.sigma(t) * jnp.sqrt(2 * jnp.log(self.sigma_max / self.sigma_min))

    def marginal(self, t: RealScalarLike) -> tuple[Float[Array, ""], Float[Array, ""]]:
        check_time(t, self.T)
        t = jnp.asarray(t, jnp.result_type(float))
        log_ratio = jnp.log(self.sigma_max / self.sigma_min)
        # sigma(t)^2 - sigma_min^2 = sigma_min^2 expm1(2 t log ratio), exact near t=0.
        std = self.sigma_min * jnp.sqrt(jnp.expm1(2.0 * t * log_ratio))
        return jnp.ones_like(std), std

    @property
    def prior_std(self) -> RealScalarLike:
        return self.sigma_max
