r"""The VP SDE with a linear $\beta(t)$ (the continuous limit of DDPM)."""

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import RealScalarLike
from .._validation import check_less, check_positive, check_real_scalar
from .vp_base import AbstractVPSDE


def linear_beta(t, beta_min, beta_max):
    return beta_min + jnp.asarray(t, jnp.result_type(float)) * (beta_max - beta_min)


def linear_integral_beta(t, beta_min, beta_max):
    t = jnp.asarray(t, jnp.result_type(float))
    return beta_min * t + 0.5 * (beta_max - beta_min) * t**2


def check_beta_range(beta_min, beta_max) -> None:
    check_positive("beta_min", beta_min)
    check_positive("beta_max", beta_max)
    check_real_scalar("beta_max", beta_max)
    check_less("beta_min", beta_min, "beta_max", beta_max)


class VPSDE(AbstractVPSDE):
    r"""The variance-preserving SDE of Song et al. (2021, eq. 11) with
    $\beta(t) = \beta_\min + t(\beta_\max - \beta_\min)$:

    $$\mathrm{d}y = -\tfrac12\beta(t)\,y\,\mathrm{d}t + \sqrt{\beta(t)}\,\mathrm{d}w.$$

    Exact kernel: with $B(t) = \beta_\min t + \tfrac12(\beta_\max - \beta_\min)t^2$,
    $\text{mean\_coeff} = e^{-B/2}$, $\text{std} = \sqrt{1 - e^{-B}}$.
    Prior $\mathcal{N}(0, I)$. It is the $N \to \infty$ limit of
    [`scoresde.DDPM.linear`][] with $\beta_i = \beta(t_i)/N$.

    !!! example

        ```python
        import jax.numpy as jnp
        import scoresde as ss

        sde = ss.VPSDE(beta_min=0.1, beta_max=20.0)
        mean_coeff, std = sde.marginal(0.5)
        drift = sde.drift(0.5, jnp.ones(2))
        ```
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def __check_init__(self):
        check_beta_range(self.beta_min, self.beta_max)

    def beta(self, t: RealScalarLike) -> Float[Array, ""]:
        return linear_beta(t, self.beta_min, self.beta_max)

    def integral_beta(self, t: RealScalarLike) -> Float[Array, ""]:
        return linear_integral_beta(t, self.beta_min, self.beta_max)
