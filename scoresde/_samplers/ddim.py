r"""DDIM (Song, Meng & Ermon 2021) on any SDE, through its $(\alpha_t, \sigma_t)$."""

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int, check_real_scalar
from ._grid_solver import AbstractChainSolver, solve_on_grid
from .base import AbstractFixedStepSampler, SamplerOutput, ScoreFn
from .time_grid import AbstractTimeGrid, UniformTime, check_time_grid


class _DDIMSolver(AbstractChainSolver):
    sde: AbstractSDE
    eta: float

    @property
    def evals_per_step(self) -> int:
        return 1

    @property
    def draws_per_step(self) -> int:
        return 1 if self.eta > 0 else 0

    def update(self, score, t, t_next, y, noise):
        alpha, sigma = self.sde.marginal(t)
        alpha_next, sigma_next = self.sde.marginal(t_next)
        eps = -sigma * score(t, y)  # the noise prediction
        x0 = (y - sigma * eps) / alpha  # the data prediction (Tweedie)
        if self.eta > 0:
            # Posterior std of y_next given (y, x0) under the forward kernel from
            # t_next to t, scaled by eta (DDIM eq. 16 in terms of alpha, sigma).
            r = alpha / alpha_next
            var_fwd = jnp.maximum(sigma**2 - (r * sigma_next) ** 2, 0.0)
            c = self.eta * sigma_next * jnp.sqrt(var_fwd) / sigma
            c = jnp.minimum(c, sigma_next)
            y_next = (
                alpha_next * x0 + jnp.sqrt(sigma_next**2 - c**2) * eps + c * noise(0, y)
            )
        else:
            y_next = alpha_next * x0 + sigma_next * eps
        return y_next.astype(y.dtype)


class DDIM(AbstractFixedStepSampler):
    r"""Denoising diffusion implicit models (Song, Meng & Ermon 2021, eq. 12),
    written for any SDE through its exact kernel $y_t = \alpha_t y_0 +
    \sigma_t\epsilon$ ($(\alpha_t, \sigma_t)$ = `sde.marginal(t)`). On
    `num_steps` steps $t_0 = T > t_1 > \dots > t_N = t_\epsilon$ of `grid`, with
    the noise and data predictions $\hat\epsilon = -\sigma_t\, s_\theta(t, y_t)$
    and $\hat y_0 = (y_t - \sigma_t\hat\epsilon)/\alpha_t$:

    $$y_{t_\text{next}} = \alpha_{t_\text{next}}\,\hat y_0 +
    \sqrt{\sigma_{t_\text{next}}^2 - c^2}\;\hat\epsilon + c\,z, \qquad
    c = \eta\,\frac{\sigma_{t_\text{next}}}{\sigma_t}
    \sqrt{\sigma_t^2 - \tfrac{\alpha_t^2}{\alpha_{t_\text{next}}^2}
    \sigma_{t_\text{next}}^2},$$

    $z \sim \mathcal{N}(0, I)$. At $\eta = 0$ it is deterministic: the
    first-order (Euler) discretisation of the probability-flow ODE in the
    variables $(\tilde\sigma = \sigma/\alpha,\ y/\alpha)$, and exactly
    first-order [`scoresde.DPMSolver`][]. At $\eta = 1$, $c^2$ is the variance
    of the forward posterior $q(y_{t_\text{next}} \mid y_t, y_0)$: ancestral
    sampling (for a VP SDE on DDPM's grid, DDPM's $\tilde\beta$ variant of
    [`scoresde.Ancestral`][]).

    Score evaluations per sample: `num_steps`.

    **Arguments:**

    - `num_steps`: the number of steps $N \ge 1$.
    - `eta`: $\eta \ge 0$, the noise scale (0: deterministic DDIM; 1:
      ancestral).
    - `grid`: the time grid (default [`scoresde.UniformTime`][], DDIM's own
      uniform subsequence of times; measured best of the three on `mixture-1d`).

    ??? cite "Reference"

        ```bibtex
        @inproceedings{song2021denoising,
            title={Denoising Diffusion Implicit Models},
            author={Song, Jiaming and Meng, Chenlin and Ermon, Stefano},
            booktitle={International Conference on Learning Representations},
            year={2021}
        }
        ```
    """

    num_steps: int = 50
    eta: float = 0.0
    grid: AbstractTimeGrid = UniformTime()

    def __check_init__(self):
        check_int("num_steps", self.num_steps, minimum=1)
        check_real_scalar("eta", self.eta)
        if not self.eta >= 0:
            raise ValueError(f"`eta` must be >= 0, got {self.eta!r}.")
        check_time_grid(self.grid)

    def sample_one(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        key: KeyArray,
        shape: tuple[int, ...],
        *,
        t_eps: float,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
    ) -> SamplerOutput:
        solver = _DDIMSolver(sde, float(self.eta))
        ts = self.grid(sde, t_eps, self.num_steps)
        y, trajectory, stats = solve_on_grid(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        return SamplerOutput(y, trajectory, stats)
