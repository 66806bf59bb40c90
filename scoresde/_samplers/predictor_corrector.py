r"""Predictor-corrector sampling (Song et al. 2021, Algorithms 4 and 5)."""

import diffrax
import equinox as eqx
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int, check_positive
from ._grid_solver import AbstractChainSolver, solve_on_grid
from .base import (
    AbstractFixedStepSampler,
    SamplerOutput,
    ScoreFn,
    check_bool,
    data_prediction,
)
from .langevin_corrector import LangevinCorrector
from .predictors import (
    AbstractPredictor,
    EulerMaruyamaPredictor,
    ReverseDiffusionPredictor,
)
from .time_grid import AbstractTimeGrid, UniformTime, check_time_grid


class _PredictorCorrectorSolver(AbstractChainSolver):
    sde: AbstractSDE
    predictor: AbstractPredictor
    corrector: LangevinCorrector

    @property
    def evals_per_step(self) -> int:
        return 1 + self.corrector.corrector_steps

    @property
    def draws_per_step(self) -> int:
        return 1 + self.corrector.corrector_steps

    def update(self, score, t, t_next, y, noise):
        y = self.predictor(self.sde, score, t, t_next, y, noise(0, y))
        return self.corrector(self.sde, score, t_next, t, y, lambda i: noise(i + 1, y))


_PREDICTORS = {
    "reverse-diffusion": ReverseDiffusionPredictor,
    "euler-maruyama": EulerMaruyamaPredictor,
}


class PredictorCorrector(AbstractFixedStepSampler):
    r"""Predictor-corrector sampling (Song et al. 2021, Algorithms 4 and 5).

    On $N$ = `num_steps` equal steps from $T$ down to $t_\epsilon$, each step is
    a predictor — one step of a reverse-time SDE solver — followed by
    `corrector_steps` steps of Langevin MCMC at the new time, whose step size
    follows the signal-to-noise-ratio rule (see
    [`scoresde.LangevinCorrector`][]). Each step is one step of a Diffrax
    solver, run by `diffrax.diffeqsolve`.

    **Arguments:**

    - `num_steps`: the number $N$ of predictor steps.
    - `snr`: the corrector's signal-to-noise ratio $r$ (Song et al. use 0.16
      for VE SDEs on CIFAR-10).
    - `corrector_steps`: Langevin steps per predictor step $M$ (0 for the
      predictor alone).
    - `predictor`: `"reverse-diffusion"` (default,
      [`scoresde.ReverseDiffusionPredictor`][]), `"euler-maruyama"`
      ([`scoresde.EulerMaruyamaPredictor`][]), or any
      `scoresde.AbstractPredictor` instance.
    - `denoise`: whether to finish with one Tweedie denoising step at
      $t_\epsilon$ (one extra score evaluation).
    - `grid`: where the steps fall, a time-grid object (default
      [`scoresde.UniformTime`][], equal steps in $t$ as in the paper; see also
      [`scoresde.LogSNRTime`][] and [`scoresde.RhoTime`][]).

    Score evaluations per sample: $N(1 + M)$, plus one for `denoise`.
    """

    num_steps: int = 1000
    snr: float = 0.16
    corrector_steps: int = 1
    predictor: AbstractPredictor = eqx.field(
        default="reverse-diffusion", converter=lambda p: _to_predictor(p)
    )
    denoise: bool = True
    grid: AbstractTimeGrid = UniformTime()

    def __check_init__(self):
        check_int("num_steps", self.num_steps, minimum=1)
        check_positive("snr", self.snr)
        check_int("corrector_steps", self.corrector_steps, minimum=0)
        check_bool("denoise", self.denoise)
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
        solver = _PredictorCorrectorSolver(
            sde, self.predictor, LangevinCorrector(self.snr, self.corrector_steps)
        )
        ts = self.grid(sde, t_eps, self.num_steps)
        y, trajectory, stats = solve_on_grid(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        if self.denoise:
            y = data_prediction(sde, score_fn, t_eps, y)
            stats = dict(stats, nfe=stats["nfe"] + 1)
        return SamplerOutput(y, trajectory, stats)


def _to_predictor(predictor) -> AbstractPredictor:
    if isinstance(predictor, AbstractPredictor):
        return predictor
    if isinstance(predictor, str) and predictor in _PREDICTORS:
        return _PREDICTORS[predictor]()
    raise ValueError(
        "`predictor` must be 'reverse-diffusion', 'euler-maruyama' or a "
        f"scoresde.AbstractPredictor instance, got {predictor!r}."
    )
