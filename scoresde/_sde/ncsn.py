r"""NCSN (Song & Ermon 2019) as a VE SDE with piecewise-constant $g(t)^2$."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ArrayInput, RealScalarLike, default_float
from .._validation import (
    check_int,
    check_less,
    check_positive,
    check_time,
    check_vector,
)
from .base import AbstractDiscreteSDE
from .ve import VESDE


class NCSN(AbstractDiscreteSDE):
    r"""The noise ladder of NCSN (Song & Ermon 2019) as a VE SDE.

    NCSN perturbs data with $\mathcal{N}(0, \sigma_i^2 I)$ for a ladder
    $\sigma_1 < \dots < \sigma_N$. This class is the VE SDE
    $\mathrm{d}y = g(t)\,\mathrm{d}w$ whose $g^2$ is constant on each step
    $(t_{i-1}, t_i]$, $t_i = i/N$:

    $$g(t)^2 = N(\sigma_i^2 - \sigma_{i-1}^2) \quad\text{for } t \in (t_{i-1}, t_i],
    \qquad \sigma_0 = 0,$$

    so that `marginal(i / N) == (1, sigmas[i-1])` exactly; between grid points
    the variance interpolates linearly. The prior is
    $\mathcal{N}(0, \sigma_N^2 I)$. (The continuous limit is [`scoresde.VESDE`][].)

    **Arguments:**

    - `sigmas`: the noise levels, strictly ascending and positive. (Song &
      Ermon list them descending; pass `sigmas[::-1]`.)
    """

    sigmas: Float[Array, " num_steps"]
    variance_grid: Float[Array, " num_steps_plus_one"]

    def __init__(self, sigmas: ArrayInput):
        s = check_vector("sigmas", sigmas, positive=True)
        if s.size > 1 and not np.all(np.diff(s) > 0):
            hint = (
                " They look descending: pass sigmas[::-1]."
                if np.all(np.diff(s) < 0)
                else ""
            )
            raise ValueError(
                "`sigmas` must be strictly ascending (sigma_1 < ... < sigma_N), got "
                f"{s[:3].tolist()}...{s[-3:].tolist()}.{hint}"
            )
        self.sigmas = jnp.asarray(s, default_float())
        self.variance_grid = jnp.asarray(np.concatenate([[0.0], s**2]), default_float())

    @classmethod
    def geometric(
        cls, sigma_min: float = 0.01, sigma_max: float = 1.0, num_steps: int = 100
    ) -> "NCSN":
        r"""A geometric ladder `geomspace(sigma_min, sigma_max, num_steps)`, as in
        Song & Ermon (2019)."""
        num_steps = check_int("num_steps", num_steps, minimum=1)
        check_positive("sigma_min", sigma_min)
        check_positive("sigma_max", sigma_max)
        if num_steps > 1:
            check_less("sigma_min", sigma_min, "sigma_max", sigma_max)
        return cls(np.geomspace(sigma_min, sigma_max, num_steps))

    @property
    def num_steps(self) -> int:
        return self.sigmas.shape[0]

    def continuous_limit(self) -> VESDE:
        r"""The VE SDE with $\sigma(t)$ geometric from $\sigma_1$ to
        $\sigma_N$ (exactly this ladder's interpolation for a geometric one)."""
        sigmas = np.asarray(self.sigmas)
        return VESDE(sigma_min=float(sigmas[0]), sigma_max=float(sigmas[-1]))

    def drift_coefficient(self, t: RealScalarLike) -> Float[Array, ""]:
        return jnp.zeros((), jnp.result_type(float))

    def diffusion(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"] | None = None
    ) -> Float[Array, ""]:
        check_time(t, self.T)
        i = self.step_index(t)
        increment = self.variance_grid[i + 1] - self.variance_grid[i]
        return jnp.sqrt(self.num_steps * increment)

    def marginal(self, t: RealScalarLike) -> tuple[Float[Array, ""], Float[Array, ""]]:
        check_time(t, self.T)
        grid = jnp.arange(self.num_steps + 1, dtype=default_float()) / self.num_steps
        t = jnp.asarray(t, jnp.result_type(float))
        std = jnp.sqrt(jnp.interp(t, grid, self.variance_grid))
        return jnp.ones_like(std), std

    @property
    def prior_std(self) -> RealScalarLike:
        return self.sigmas[-1]
