r"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2)."""

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractDiscreteSDE, AbstractSDE, AbstractVPSDE
from .._validation import check_int
from ._grid_solver import AbstractChainSolver, discrete_grid, solve_on_grid
from .base import AbstractChainSampler, SamplerOutput, ScoreFn


class _AncestralSolver(AbstractChainSolver):
    sde: AbstractVPSDE
    num_steps: int
    posterior_variance: bool

    @property
    def evals_per_step(self) -> int:
        return 1

    @property
    def draws_per_step(self) -> int:
        return 1

    def update(self, score, t, t_next, y, noise):
        # Step i goes from t_i to t_{i-1} on the grid t_i = i / N; alpha_bar from
        # the SDE's exact kernel, so beta_i is DDPM's own beta for a DDPM.
        alpha_bar = self.sde.alpha_bar(t)
        alpha_bar_prev = jnp.where(t_next > 0, self.sde.alpha_bar(t_next), 1.0)
        alpha = alpha_bar / alpha_bar_prev
        beta = 1.0 - alpha
        mean = (y + beta * score(t, y)) / jnp.sqrt(alpha)
        if self.posterior_variance:
            var = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
        else:
            var = beta
        # No noise on the last step (Algorithm 2: z = 0 for t = 1).
        var = jnp.where(t_next > 0, var, 0.0)
        return (mean + jnp.sqrt(var) * noise(0, y)).astype(y.dtype)


class Ancestral(AbstractChainSampler):
    r"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2). From
    $y_N \sim \mathcal{N}(0, I)$, for $i = N, \dots, 1$:

    $$y_{i-1} = \frac{1}{\sqrt{\alpha_i}}\big(y_i + \beta_i\, s_\theta(t_i, y_i)
    \big) + \sigma_i z, \qquad z \sim \mathcal{N}(0, I),$$

    ($z = 0$ at $i = 1$), which is Ho et al.'s
    $\frac{1}{\sqrt{\alpha_i}}\big(y_i - \frac{\beta_i}{\sqrt{1 - \bar\alpha_i}}
    \epsilon_\theta\big) + \sigma_i z$ with the score
    $s_\theta = -\epsilon_\theta / \sqrt{1 - \bar\alpha_i}$, and $\sigma_i^2 =
    \beta_i$ (or the posterior variance $\tilde\beta_i = \frac{1 -
    \bar\alpha_{i-1}}{1 - \bar\alpha_i}\beta_i$ with `posterior_variance=True`).

    On a [`scoresde.DDPM`][] it runs on the model's own grid $t_i = i/N$ with its
    $\beta_i$. On a continuous variance-preserving SDE ([`scoresde.VPSDE`][],
    [`scoresde.CosineVPSDE`][]) it runs on the discretisation $t_i = i/N$,
    $N$ = `num_steps`, with $\beta_i = 1 - \bar\alpha(t_i)/\bar\alpha(t_{i-1})$
    from the SDE's exact kernel (Song et al. 2021, appendix E). Other SDEs
    (VE, NCSN, sub-VP) raise a `ValueError`. Sampling ends at $t = 0$; the
    `t_eps` of [`scoresde.sample`][] is not used.

    **Arguments:**

    - `num_steps`: $N$ for continuous VP SDEs (default 1000); must be `None`
      or equal to the DDPM's own $N$ for a DDPM.
    - `posterior_variance`: use $\tilde\beta_i$ instead of $\beta_i$.

    Score evaluations per sample: $N$.
    """

    num_steps: int | None = None
    posterior_variance: bool = False

    def __check_init__(self):
        if self.num_steps is not None:
            check_int("num_steps", self.num_steps, minimum=1)

    def check_sde(self, sde: AbstractSDE) -> None:
        if not isinstance(sde, AbstractVPSDE):
            raise ValueError(
                "Ancestral sampling needs a variance-preserving SDE (ss.DDPM, "
                f"ss.VPSDE or ss.CosineVPSDE), got {type(sde).__name__}. For "
                "ss.NCSN use ss.AnnealedLangevin(); for any SDE use "
                "ss.ReverseSDE() or ss.PredictorCorrector()."
            )
        if (
            isinstance(sde, AbstractDiscreteSDE)
            and self.num_steps is not None
            and self.num_steps != sde.num_steps
        ):
            raise ValueError(
                f"`num_steps`={self.num_steps} disagrees with the DDPM's own "
                f"{sde.num_steps} steps; leave it as None."
            )

    def _grid_size(self, sde: AbstractSDE) -> int:
        if isinstance(sde, AbstractDiscreteSDE):
            return sde.num_steps
        return 1000 if self.num_steps is None else self.num_steps

    def sample_one(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        key: KeyArray,
        shape: tuple[int, ...],
        *,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
    ) -> SamplerOutput:
        n = self._grid_size(sde)
        solver = _AncestralSolver(sde, n, self.posterior_variance)
        ts = discrete_grid(n)
        y, trajectory, stats = solve_on_grid(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        return SamplerOutput(y, trajectory, stats)
