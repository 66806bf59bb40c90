r"""EDM's Heun sampler with churn (Karras et al. 2022, Algorithms 1 and 2) on any
SDE, in the scaled variable $y/\alpha_t$ and noise level $\sigma_t/\alpha_t$."""

import math

import diffrax
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int, check_positive, check_real_scalar
from ._grid_solver import AbstractChainSolver, solve_on_grid
from .base import (
    AbstractFixedStepSampler,
    SamplerOutput,
    ScoreFn,
    data_prediction,
)
from .time_grid import (
    AbstractTimeGrid,
    RhoTime,
    check_time_grid,
    log_snr,
    time_at_log_snr,
)


class _EDMHeunSolver(AbstractChainSolver):
    """One step of Algorithm 2: raise the noise level from t to t_hats[step] (the
    time whose noise level is (1 + gamma) times t's), then a Heun step down to
    t_next."""

    sde: AbstractSDE
    t_hats: Float[Array, " steps"]
    churn: bool
    s_noise: float

    @property
    def evals_per_step(self) -> int:
        return 2

    @property
    def draws_per_step(self) -> int:
        return 1 if self.churn else 0

    def update(self, score, t, t_next, y, noise):
        sde = self.sde
        alpha, sigma = sde.marginal(t)
        x = y / alpha  # EDM's x at noise level sigma~ = sigma / alpha
        if self.churn:
            t_hat = self.t_hats[noise.step]
            alpha_hat, sigma_hat = sde.marginal(t_hat)
            level, level_hat = sigma / alpha, sigma_hat / alpha_hat
            raise_std = jnp.sqrt(jnp.maximum(level_hat**2 - level**2, 0.0))
            x = x + raise_std * self.s_noise * noise(0, y)
        else:
            t_hat, alpha_hat, sigma_hat = t, alpha, sigma
        alpha_next, sigma_next = sde.marginal(t_next)
        level_hat, level_next = sigma_hat / alpha_hat, sigma_next / alpha_next

        def slope(tt, a, s, x):
            # dx/d sigma~ = (x - D(x; sigma~)) / sigma~ = -sigma score(t, alpha x):
            # the noise prediction, without dividing by a small sigma~.
            return -s * score(tt, a * x)

        d = slope(t_hat, alpha_hat, sigma_hat, x)
        x_euler = x + (level_next - level_hat) * d
        d_next = slope(t_next, alpha_next, sigma_next, x_euler)
        x_next = x + (level_next - level_hat) * 0.5 * (d + d_next)
        return (alpha_next * x_next).astype(y.dtype)


class EDMHeun(AbstractFixedStepSampler):
    r"""The stochastic Heun sampler of Karras et al. (2022, Algorithm 2; with
    `churn=0` the deterministic Algorithm 1), for any SDE.

    Written in EDM's variables, the scaled state $x = y/\alpha_t$ and the noise
    level $\tilde\sigma_t = \sigma_t/\alpha_t$ (with $(\alpha_t, \sigma_t)$ =
    `sde.marginal(t)`), every SDE of scoresde becomes EDM's $x = y_0 +
    \tilde\sigma\epsilon$ and its probability-flow ODE is $\mathrm{d}x/
    \mathrm{d}\tilde\sigma = (x - D(x; \tilde\sigma))/\tilde\sigma$, with the
    denoiser $D$ the data prediction (Tweedie) from the score. On the times
    $t_0 = T > \dots > t_{N-1} = t_\epsilon$ of `grid` (EDM's $\rho$ grid by
    default), step $i$ is

    $$\gamma_i = \begin{cases}\min(S_\text{churn}/N, \sqrt2 - 1) &
    \tilde\sigma_i \in [S_\text{tmin}, S_\text{tmax}]\\ 0 & \text{otherwise}
    \end{cases},\qquad \hat\sigma_i = (1 + \gamma_i)\tilde\sigma_i,\qquad
    \hat x_i = x_i + \sqrt{\hat\sigma_i^2 - \tilde\sigma_i^2}\,S_\text{noise}\,z,$$

    then a Heun (trapezoidal) step of the ODE from $\hat\sigma_i$ to
    $\tilde\sigma_{i+1}$ — an Euler step and its correction, two score
    evaluations. As in the paper the last step goes to $\tilde\sigma = 0$: an
    Euler step there is the denoiser itself, so the sample is $D(x_{N-1};
    \tilde\sigma_{t_\epsilon})$, the Tweedie estimate at $t_\epsilon$.

    Score evaluations per sample: $2N - 1$ (35 for EDM's $N = 18$). The raised
    level $\hat\sigma_i$ is evaluated at the time with that noise level (the
    SDE's kernel inverted), capped at $T$: the score is not defined beyond it.

    !!! warning "Few levels"

        Heun's trapezoidal correction is only stable for moderate steps. With
        fewer than about 8 levels the steps where $\tilde\sigma$ crosses the
        data's scale span factors of 6 to 12: the Euler predictor lands between
        the modes, the slope at the step's end (where the modes are already
        sharp) is the distance to the nearest mode divided by a much smaller
        noise level, and the correction carries the sample past the mode. On
        `mixture-1d` (VP, exact score) 5 levels (9 evaluations) put 5.7% of the
        samples more than 6 standard deviations from every mode, 6 levels
        0.1%, 8, 10 and 18 levels none; Karras et al.'s Algorithm 1 in plain
        float64 NumPy on the same grid gives the same counts
        (`benchmarks/edm_heun_levels.py`), so it is the algorithm, not this
        implementation. The last step's denoiser does not pull them back: at
        $\tilde\sigma_{t_\epsilon} \approx 0.01$, $D(x) \approx x$. For fewer
        evaluations use [`scoresde.DPMSolver`][].

    **Arguments:**

    - `num_steps`: $N \ge 2$, the number of noise levels (EDM: 18 for CIFAR-10).
    - `rho`: $\rho > 0$ of the default grid [`scoresde.RhoTime`][] (7).
    - `churn`: $S_\text{churn} \ge 0$, the total amount of noise re-injected
      (0: the deterministic Algorithm 1).
    - `s_tmin`, `s_tmax`: the range of $\tilde\sigma$ where noise is
      re-injected.
    - `s_noise`: $S_\text{noise} > 0$, the scale of the re-injected noise
      (slightly above 1 compensates for a denoiser's bias; 1 is exact).
    - `grid`: a time grid overriding the $\rho$ grid (default `None`:
      `RhoTime(rho)`).

    ??? cite "Reference"

        ```bibtex
        @inproceedings{karras2022elucidating,
            title={Elucidating the Design Space of Diffusion-Based Generative
                   Models},
            author={Karras, Tero and Aittala, Miika and Aila, Timo and Laine,
                    Samuli},
            booktitle={Advances in Neural Information Processing Systems},
            year={2022}
        }
        ```
    """

    num_steps: int
    rho: float
    churn: float
    s_tmin: float
    s_tmax: float
    s_noise: float
    grid: AbstractTimeGrid

    def __init__(
        self,
        num_steps: int = 18,
        rho: float = 7.0,
        churn: float = 0.0,
        s_tmin: float = 0.0,
        s_tmax: float = float("inf"),
        s_noise: float = 1.0,
        grid: AbstractTimeGrid | None = None,
    ):
        check_int("num_steps", num_steps, minimum=1)
        if num_steps < 2:
            raise ValueError(
                f"`num_steps` of EDMHeun must be >= 2 (noise levels from T down to "
                f"t_eps, then the final denoising step), got {num_steps!r}."
            )
        check_positive("rho", rho)
        check_real_scalar("churn", churn)
        if not churn >= 0:
            raise ValueError(f"`churn` must be >= 0, got {churn!r}.")
        check_real_scalar("s_tmin", s_tmin)
        if not (isinstance(s_tmax, (int, float)) and s_tmax == float("inf")):
            check_real_scalar("s_tmax", s_tmax)
        if not s_tmin >= 0 or not s_tmax >= s_tmin:
            raise ValueError(
                f"`s_tmin` and `s_tmax` must satisfy 0 <= s_tmin <= s_tmax, got "
                f"{s_tmin!r} and {s_tmax!r}."
            )
        check_positive("s_noise", s_noise)
        self.num_steps = num_steps
        self.rho = float(rho)
        self.churn = float(churn)
        self.s_tmin = float(s_tmin)
        self.s_tmax = float(s_tmax)
        self.s_noise = float(s_noise)
        self.grid = RhoTime(self.rho) if grid is None else grid
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
        n = self.num_steps
        ts = self.grid(sde, t_eps, n - 1)
        churn = self.churn > 0
        if churn:
            lam = jax.vmap(lambda t: log_snr(sde, t))(ts[:-1])
            level = jnp.exp(-lam)
            inside = (level >= self.s_tmin) & (level <= self.s_tmax)
            gamma = jnp.where(inside, min(self.churn / n, math.sqrt(2.0) - 1.0), 0.0)
            # Raised levels: at least t's own, capped at T's (log sigma~ = -lambda).
            lam_hat = jnp.maximum(lam - jnp.log1p(gamma), log_snr(sde, sde.T))
            t_hats = jnp.where(gamma > 0, time_at_log_snr(sde, lam_hat), ts[:-1])
        else:
            t_hats = ts[:-1]
        solver = _EDMHeunSolver(sde, t_hats, churn, self.s_noise)
        y, trajectory, stats = solve_on_grid(
            solver, score_fn, key, shape, ts, save_ts, progress_meter
        )
        # The last step, to sigma~ = 0: the denoiser at t_eps.
        y = data_prediction(sde, score_fn, ts[-1], y)
        stats = dict(stats, nfe=stats["nfe"] + 1)
        return SamplerOutput(y, trajectory, stats)
