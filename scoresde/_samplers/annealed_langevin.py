r"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1)."""

import diffrax
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import NCSN, AbstractSDE
from .._validation import check_int, check_positive
from ._grid_solver import AbstractChainSolver, discrete_grid, solve_on_grid
from .base import AbstractChainSampler, SamplerOutput, ScoreFn


class _AnnealedLangevinSolver(AbstractChainSolver):
    sde: NCSN
    steps_per_level: int
    step_size: float

    @property
    def evals_per_step(self) -> int:
        return self.steps_per_level

    @property
    def draws_per_step(self) -> int:
        return self.steps_per_level

    def update(self, score, t, t_next, y, noise):
        # This step runs the noise level sigma_i with t = t_i = i / N.
        sigmas = self.sde.sigmas
        i = jnp.clip(jnp.round(t * sigmas.shape[0]).astype(jnp.int32), 1, None)
        sigma = sigmas[i - 1]
        alpha = self.step_size * (sigma / sigmas[0]) ** 2

        def body(j, y):
            y_next = y + 0.5 * alpha * score(t, y) + jnp.sqrt(alpha) * noise(j, y)
            return y_next.astype(y.dtype)

        return jax.lax.fori_loop(0, self.steps_per_level, body, y)


class AnnealedLangevin(AbstractChainSampler):
    r"""Annealed Langevin dynamics over an NCSN's noise ladder (Song & Ermon
    2019, Algorithm 1). From $y \sim \mathcal{N}(0, \sigma_N^2 I)$, for each
    noise level $\sigma_N > \dots > \sigma_1$ in turn, with step size
    $\alpha_i = \epsilon\, \sigma_i^2 / \sigma_1^2$ ($\epsilon$ = `step_size`),
    repeat `steps_per_level` times

    $$y \leftarrow y + \tfrac{\alpha_i}{2}\, s_\theta(t_i, y) + \sqrt{\alpha_i}\,
    z, \qquad z \sim \mathcal{N}(0, I),$$

    where $t_i = i/N$ is the time at which [`scoresde.NCSN`][]'s marginal is
    $\mathcal{N}(y_0, \sigma_i^2 I)$. Each noise level is one step of a Diffrax
    solver. Only for [`scoresde.NCSN`][] (a `ValueError` otherwise); the
    `t_eps` of [`scoresde.sample`][] is not used. Song & Ermon start from
    uniform noise; here the start is the NCSN's prior.

    **Arguments:**

    - `steps_per_level`: Langevin steps per noise level $T$ (100 in the paper).
    - `step_size`: $\epsilon$, the step size at the smallest level (2e-5 in
      the paper, with $\sigma_1 = 0.01$).

    Score evaluations per sample: $N \times$ `steps_per_level`.
    """

    steps_per_level: int = 100
    step_size: float = 2e-5

    def __check_init__(self):
        check_int("steps_per_level", self.steps_per_level, minimum=1)
        check_positive("step_size", self.step_size)

    def check_sde(self, sde: AbstractSDE) -> None:
        if not isinstance(sde, NCSN):
            raise ValueError(
                "Annealed Langevin dynamics needs an NCSN noise ladder (ss.NCSN), "
                f"got {type(sde).__name__}. For ss.DDPM use ss.Ancestral(); for "
                "any SDE use ss.ReverseSDE() or ss.PredictorCorrector()."
            )

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
        n = sde.num_steps
        solver = _AnnealedLangevinSolver(sde, self.steps_per_level, self.step_size)
        ts = discrete_grid(n)
        y, trajectory, stats = solve_on_grid(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        return SamplerOutput(y, trajectory, stats)
