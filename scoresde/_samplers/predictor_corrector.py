r"""Predictor-corrector sampling (Song et al. 2021, Algorithms 4 and 5)."""

import abc
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int, check_positive
from ._chain import AbstractChainSolver, solve_chain, uniform_grid
from .base import (
    SAMPLE_AXIS,
    AbstractSampler,
    SamplerOutput,
    ScoreFn,
    tweedie_denoise,
)


Score = Callable[[Array, Array], Array]


class AbstractPredictor(eqx.Module):
    """A predictor: one step of a reverse-time SDE solver from `t` down to `t_next`,
    using one score evaluation and one standard normal draw `z` of the sample's
    shape."""

    @abc.abstractmethod
    def __call__(
        self,
        sde: AbstractSDE,
        score: Score,
        t: Array,
        t_next: Array,
        y: Array,
        z: Array,
    ) -> Array:
        """Return the state at `t_next`, given the state `y` at `t` and the step's
        noise `z` ~ N(0, I)."""


class ReverseDiffusionPredictor(AbstractPredictor):
    r"""The reverse-diffusion predictor of Song et al. (2021, eq. 47 and
    Algorithms 4/5): with the forward step from $t_\text{next}$ to $t$ written as
    $y_t = r\,y_{t_\text{next}} + G z$ ($r = m(t)/m(t_\text{next})$,
    $G^2 = s(t)^2 - r^2 s(t_\text{next})^2$ from the SDE's exact kernel),

    $$y_{t_\text{next}} = y_t - (r - 1)\,y_t + G^2\, s_\theta(t, y_t) + G z.$$

    For a VE SDE this is $y + (\sigma_t^2 - \sigma_{t_\text{next}}^2)\,s_\theta
    + \sqrt{\sigma_t^2 - \sigma_{t_\text{next}}^2}\,z$ (Song et al. eq. 47); for a
    VP SDE, $G^2 = \beta_i$ and $r = \sqrt{1 - \beta_i}$ as in DDPM."""

    def __call__(self, sde, score, t, t_next, y, z):
        m, s = sde.marginal(t)
        m_next, s_next = sde.marginal(t_next)
        r = m / m_next
        g2 = jnp.maximum(s**2 - (r * s_next) ** 2, 0.0)
        y_next = y - (r - 1.0) * y + g2 * score(t, y) + jnp.sqrt(g2) * z
        return y_next.astype(y.dtype)


class EulerMaruyamaPredictor(AbstractPredictor):
    r"""The Euler-Maruyama predictor: one step of the reverse-time SDE,
    $y_{t_\text{next}} = y_t - \big[f(y_t, t) - g(t)^2 s_\theta(t, y_t)\big]\Delta t
    + g(t)\sqrt{\Delta t}\, z$ with $\Delta t = t - t_\text{next} > 0$."""

    def __call__(self, sde, score, t, t_next, y, z):
        dt = t - t_next
        drift = sde.reverse_drift(t, y, score(t, y))
        y_next = y - drift * dt + sde.diffusion(t) * jnp.sqrt(dt) * z
        return y_next.astype(y.dtype)


class LangevinCorrector(eqx.Module):
    r"""The Langevin corrector of Song et al. (2021, Algorithms 4 and 5): at time
    $t$, repeat `corrector_steps` times

    $$\epsilon = 2\alpha\Big(\frac{r\,\lVert z\rVert_2}{\lVert s_\theta(t, y)
    \rVert_2}\Big)^2, \qquad y \leftarrow y + \epsilon\, s_\theta(t, y)
    + \sqrt{2\epsilon}\, z,\quad z \sim \mathcal{N}(0, I),$$

    where $r$ is the signal-to-noise ratio `snr` and $\alpha$ is $1 - \beta_i$ of
    the step just taken for VP-type SDEs ($m(t_\text{prev})^2 / m(t)^2$; exactly 1
    for VE).

    The two norms are averaged over the batch before the ratio is taken, as in
    the authors' code (`score_sde`, `LangevinCorrector`), so every sample of a
    batch takes the same step $\epsilon$. With per-sample norms the step is
    state-dependent and, in low dimension, unbounded where the score vanishes
    (between modes), which breaks the chain's invariance: on `mixture-1d` it
    moves half of the middle mode's mass into the outer ones. The batch is the
    chunk that [`scoresde.sample`][] `vmap`s over (the `vmap` axis
    `"samples"`); outside such a `vmap` the norms are per sample.

    Called as `corrector(sde, score, t, t_prev, y, noise)`, where `noise(i)` is
    the $i$-th standard normal draw of the sample's shape ($i$ <
    `corrector_steps`).
    """

    snr: float
    corrector_steps: int

    def __call__(self, sde, score, t, t_prev, y, noise):
        m, _ = sde.marginal(t)
        m_prev, _ = sde.marginal(t_prev)
        alpha = (m_prev / m) ** 2

        def body(i, y):
            z = noise(i)
            grad = score(t, y)
            grad_norm = _batch_mean(jnp.sqrt(jnp.sum(grad**2)))
            noise_norm = _batch_mean(jnp.sqrt(jnp.sum(z**2)))
            eps = 2.0 * alpha * (self.snr * noise_norm / grad_norm) ** 2
            return (y + eps * grad + jnp.sqrt(2.0 * eps) * z).astype(y.dtype)

        return jax.lax.fori_loop(0, self.corrector_steps, body, y)


def _batch_mean(x: Array) -> Array:
    """The mean of `x` over the samples being `vmap`ped (axis `SAMPLE_AXIS`), or
    `x` itself outside such a `vmap`."""
    try:
        return jax.lax.pmean(x, SAMPLE_AXIS)
    except NameError:
        return x


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


class PredictorCorrector(AbstractSampler):
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

    Score evaluations per sample: $N(1 + M)$, plus one for `denoise`.
    """

    num_steps: int = 1000
    snr: float = 0.16
    corrector_steps: int = 1
    predictor: AbstractPredictor = eqx.field(
        default="reverse-diffusion", converter=lambda p: _to_predictor(p)
    )
    denoise: bool = True

    def __check_init__(self):
        check_int("num_steps", self.num_steps, minimum=1)
        check_positive("snr", self.snr)
        check_int("corrector_steps", self.corrector_steps, minimum=0)
        if not isinstance(self.denoise, bool):
            raise TypeError(f"`denoise` must be a bool, got {self.denoise!r}.")

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
        ts = uniform_grid(sde.T, t_eps, self.num_steps)
        y, trajectory, stats = solve_chain(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        if self.denoise:
            y = tweedie_denoise(sde, score_fn, t_eps, y)
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
