r"""DDPM (Ho et al. 2020) as a VP SDE with piecewise-constant $\beta(t)$."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import ArrayInput, RealScalarLike, default_float
from .._validation import check_in_interval, check_int, check_less, check_vector
from .base import AbstractDiscreteSDE
from .vp import VPSDE
from .vp_base import AbstractVPSDE


class DDPM(AbstractVPSDE, AbstractDiscreteSDE):
    r"""The discrete DDPM forward chain of Ho et al. (2020) as a VP SDE.

    The chain $y_i = \sqrt{1 - \beta_i}\,y_{i-1} + \sqrt{\beta_i}\,z_i$,
    $i = 1, \dots, N$, has $y_i \mid y_0 \sim
    \mathcal{N}(\sqrt{\bar\alpha_i}\,y_0, (1 - \bar\alpha_i) I)$ with
    $\bar\alpha_i = \prod_{j \le i}(1 - \beta_j)$. This class is the VP SDE
    $\mathrm{d}y = -\tfrac12\beta(t)y\,\mathrm{d}t + \sqrt{\beta(t)}\,\mathrm{d}w$
    whose rate is constant on each step $(t_{i-1}, t_i]$, $t_i = i/N$:

    $$\beta(t) = -N \log(1 - \beta_i) \quad\text{for } t \in (t_{i-1}, t_i],$$

    chosen so that the SDE's marginals are exact at the grid:
    `marginal(i / N) == (sqrt(alpha_bar[i-1]), sqrt(1 - alpha_bar[i-1]))`.
    Between grid points the kernel is that of this piecewise SDE
    ($\log\bar\alpha$ interpolates linearly). The prior is $\mathcal{N}(0, I)$.
    (As $N \to \infty$ with $\beta_i = \bar\beta(t_i)/N$, $-N\log(1-\beta_i)
    \to \bar\beta(t_i)$: the continuous [`scoresde.VPSDE`][].)

    **Arguments:**

    - `betas`: the per-step variances $\beta_1, \dots, \beta_N$, each in $(0, 1)$.

    Note that `betas` is indexed from 0: `betas[i - 1]` is $\beta_i$, the step
    that ends at $t_i$.
    """

    betas: Float[Array, " num_steps"]
    log_alpha_bar_grid: Float[Array, " num_steps_plus_one"]
    rates: Float[Array, " num_steps"]

    def __init__(self, betas: ArrayInput):
        b = check_vector("betas", betas)
        if not np.all((b > 0) & (b < 1)):
            raise ValueError(
                "`betas` must lie in (0, 1) everywhere, got values in "
                f"[{b.min():.4g}, {b.max():.4g}]."
            )
        log_one_minus = np.log1p(-b)  # float64
        n = b.shape[0]
        self.betas = jnp.asarray(b, default_float())
        self.log_alpha_bar_grid = jnp.asarray(
            np.concatenate([[0.0], np.cumsum(log_one_minus)]), default_float()
        )
        self.rates = jnp.asarray(-n * log_one_minus, default_float())

    @classmethod
    def linear(
        cls, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> "DDPM":
        r"""Ho et al.'s linear schedule: `betas = linspace(beta_start, beta_end,
        num_steps)`."""
        num_steps = check_int("num_steps", num_steps, minimum=1)
        check_in_interval(
            "beta_start", beta_start, 0.0, 1.0, low_open=True, high_open=True
        )
        check_in_interval("beta_end", beta_end, 0.0, 1.0, low_open=True, high_open=True)
        if num_steps > 1:
            check_less("beta_start", beta_start, "beta_end", beta_end)
        return cls(np.linspace(beta_start, beta_end, num_steps))

    @classmethod
    def cosine(
        cls, num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999
    ) -> "DDPM":
        r"""Nichol & Dhariwal's (2021) cosine schedule:
        $\beta_i = \min(1 - \bar\alpha(t_i)/\bar\alpha(t_{i-1}), \text{max\_beta})$
        with $\bar\alpha(t) \propto \cos^2\big(\tfrac{\pi}{2}\tfrac{t + s}{1 + s}\big)$."""
        num_steps = check_int("num_steps", num_steps, minimum=1)
        check_in_interval("s", s, 0.0, 1.0, low_open=True)
        check_in_interval("max_beta", max_beta, 0.0, 1.0, low_open=True, high_open=True)
        t = np.arange(num_steps + 1, dtype=np.float64) / num_steps
        f = np.cos(0.5 * np.pi * (t + s) / (1 + s)) ** 2
        betas = np.clip(1.0 - f[1:] / f[:-1], 1e-12, max_beta)
        return cls(betas)

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]

    def continuous_limit(self) -> VPSDE:
        r"""The VP SDE with $\beta(t)$ linear from the first step's rate
        $-N\log(1 - \beta_1)$ to the last one's, $-N\log(1 - \beta_N)$ (for
        the linear schedule, $\approx N\beta_1$ and $N\beta_N$: the VP SDE of
        Song et al. 2021 with `beta_min = 0.1`, `beta_max = 20`)."""
        rates = np.asarray(self.rates)
        return VPSDE(beta_min=float(rates[0]), beta_max=float(rates[-1]))

    @property
    def alphas(self) -> Float[Array, " num_steps"]:
        r"""$\alpha_i = 1 - \beta_i$."""
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> Float[Array, " num_steps"]:
        r"""$\bar\alpha_i = \prod_{j \le i} (1 - \beta_j)$, $i = 1, \dots, N$."""
        return jnp.exp(self.log_alpha_bar_grid[1:])

    def beta(self, t: RealScalarLike) -> Float[Array, ""]:
        return self.rates[self.step_index(t)]

    def integral_beta(self, t: RealScalarLike) -> Float[Array, ""]:
        grid = jnp.arange(self.num_steps + 1, dtype=default_float()) / self.num_steps
        t = jnp.asarray(t, jnp.result_type(float))
        return -jnp.interp(t, grid, self.log_alpha_bar_grid)
