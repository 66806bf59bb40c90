r"""The VP SDE with the cosine schedule of Nichol & Dhariwal (2021)."""

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import RealScalarLike
from .._validation import check_in_interval
from .vp_base import AbstractVPSDE


class CosineVPSDE(AbstractVPSDE):
    r"""A VP SDE whose $\bar\alpha$ follows the cosine schedule of Nichol &
    Dhariwal (2021, eq. 17):

    $$\bar\alpha(t) = \frac{\cos^2\!\big(\phi(t)\big)}{\cos^2\!\big(\phi(0)\big)},
    \qquad \phi(t) = \frac{\pi}{2}\,\frac{t\,t_\max + s}{1 + s},$$

    so that $B(t) = -\log\bar\alpha(t)$ and
    $\beta(t) = B'(t) = \pi\, t_\max \tan\phi(t) / (1 + s)$.

    Nichol & Dhariwal's schedule reaches $\bar\alpha = 0$ (and $\beta = \infty$) at
    the end; their discrete version clips $\beta$. Here the schedule's clock is
    stopped at $t_\max < 1$ instead (time $T = 1$ of this SDE is time $t_\max$ of
    theirs), which keeps $\beta$ finite and the kernel exact. With the defaults
    $\bar\alpha(1) \approx 6\times10^{-5}$ and $\beta(1) \approx 400$.

    **Arguments:**

    - `s`: the small offset $s$ (default 0.008, as in the paper).
    - `t_max`: where the paper's clock stops, in $(0, 1)$ (default 0.995).
    """

    s: float = 0.008
    t_max: float = 0.995

    def __check_init__(self):
        check_in_interval("s", self.s, 0.0, 1.0, low_open=True)
        check_in_interval("t_max", self.t_max, 0.0, 1.0, low_open=True, high_open=True)

    def _phi(self, t):
        t = jnp.asarray(t, jnp.result_type(float))
        return 0.5 * jnp.pi * (t * self.t_max + self.s) / (1.0 + self.s)

    def beta(self, t: RealScalarLike) -> Float[Array, ""]:
        return jnp.pi * self.t_max / (1.0 + self.s) * jnp.tan(self._phi(t))

    def integral_beta(self, t: RealScalarLike) -> Float[Array, ""]:
        # B(t) = -2 log(cos(phi0 + d) / cos(phi0)) with d = phi(t) - phi0, written as
        # -2 log1p(cos d - 1 - tan(phi0) sin d) so it stays accurate for small t.
        t = jnp.asarray(t, jnp.result_type(float))
        phi0 = 0.5 * jnp.pi * self.s / (1.0 + self.s)
        d = 0.5 * jnp.pi * t * self.t_max / (1.0 + self.s)
        return -2.0 * jnp.log1p(
            -2.0 * jnp.sin(0.5 * d) ** 2 - jnp.tan(phi0) * jnp.sin(d)
        )
