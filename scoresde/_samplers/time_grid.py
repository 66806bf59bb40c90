r"""Time grids for the fixed-step samplers: where between $T$ and the final time the
steps fall, uniform in $t$, uniform in log-SNR, or on EDM's $\rho$ grid.

Every grid is described through the SDE's exact kernel $(\alpha_t, \sigma_t)$ =
`sde.marginal(t)`, so one grid object serves every SDE (VP, sub-VP, VE, cosine,
DDPM, NCSN): the log signal-to-noise ratio $\lambda_t = \log(\alpha_t /
\sigma_t)$ decreases strictly in $t$ for all of them, and the grid's times are
found by inverting it."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import RealScalarLike
from .._sde import AbstractSDE
from .._validation import check_positive


#: Bisection steps of `time_at_log_snr`: the bracket [0, T] shrinks to 2^-48 T,
#: below float32's (and near float64's) resolution of t.
_BISECTION_STEPS = 48


def log_snr(sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
    r"""The log signal-to-noise ratio $\lambda_t = \log\alpha_t - \log\sigma_t$ of
    the SDE's kernel at time `t` (the half-log-SNR of Lu et al. 2022), with
    $(\alpha_t, \sigma_t)$ = `sde.marginal(t)`. For a VE SDE $\alpha_t = 1$ and
    $\sigma_t^2 = \sigma(t)^2 - \sigma_\min^2$; for sub-VP $\sigma_t = 1 - e^{-B}$,
    not $\sqrt{1 - \alpha_t^2}$: always the exact kernel."""
    alpha, sigma = sde.marginal(t)
    return jnp.log(alpha) - jnp.log(sigma)


def time_at_log_snr(sde: AbstractSDE, lam: Float[Array, " n"]) -> Float[Array, " n"]:
    r"""The times $t \in [0, T]$ with $\lambda_t$ = `lam` (a 1-D array), by
    bisection on the strictly decreasing $\lambda_t$; targets outside
    $[\lambda_T, \infty)$ go to the ends. Works for every SDE of scoresde
    (closed-form inverses exist for some; one method keeps them consistent)."""

    def one(target):
        def body(_, bracket):
            lo, hi = bracket
            mid = 0.5 * (lo + hi)
            above = log_snr(sde, mid) > target  # lambda decreasing: t too small
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        zero = jnp.zeros((), target.dtype)
        lo, hi = jax.lax.fori_loop(
            0, _BISECTION_STEPS, body, (zero, zero + sde.T), unroll=False
        )
        return 0.5 * (lo + hi)

    return jax.vmap(one)(lam)


class AbstractTimeGrid(eqx.Module):
    r"""Base class of the time grids of the fixed-step samplers: `grid(sde,
    t_end, num_steps)` returns `num_steps + 1` times descending strictly from
    $T$ to `t_end`, both ends exact."""

    @abc.abstractmethod
    def interior(
        self, sde: AbstractSDE, t_end: float, num_steps: int
    ) -> Float[Array, " num_steps_plus_one"]:
        """The grid's `num_steps + 1` times from $T$ down to `t_end` (the ends may
        be off by round-off; `__call__` pins them)."""

    def __call__(
        self, sde: AbstractSDE, t_end: float, num_steps: int
    ) -> Float[Array, " num_steps_plus_one"]:
        """`num_steps + 1` times from exactly $T$ down to exactly `t_end`."""
        ts = self.interior(sde, t_end, num_steps)
        dtype = ts.dtype
        ends = jnp.asarray([sde.T, t_end], dtype)
        return ts.at[0].set(ends[0]).at[-1].set(ends[1])


class UniformTime(AbstractTimeGrid):
    r"""Equal steps in $t$: $t_i = T - i\,(T - t_\text{end})/N$, $i = 0, \dots, N$.

    The classical grid of Song et al. (2021) for the reverse SDE,
    predictor-corrector and the fixed-step probability-flow ODE, and the
    default of [`scoresde.ReverseSDE`][], [`scoresde.PredictorCorrector`][],
    [`scoresde.ProbabilityFlowODE`][], [`scoresde.DPMSolver`][] and
    [`scoresde.DDIM`][] (diffusers' default "linspace" time steps are this grid
    too). For a VP SDE it puts most steps at high and middle noise and ends with
    one long step to $t_\text{end}$; on `mixture-1d` that gave the most
    accurate few-step samples (see the Sampling tutorial).
    """

    def interior(self, sde, t_end, num_steps):
        return jnp.linspace(sde.T, t_end, num_steps + 1)


class LogSNRTime(AbstractTimeGrid):
    r"""Equal steps in the log signal-to-noise ratio $\lambda_t = \log(\alpha_t /
    \sigma_t)$ (Lu et al. 2022, "time_uniform" vs "logSNR" step schedules):

    $$\lambda_{t_i} = \lambda_T + \tfrac{i}{N}\,(\lambda_{t_\text{end}} -
    \lambda_T),$$

    the natural grid of DPM-Solver, whose exponential integrator is exact in
    $\lambda$. For a VE SDE it is nearly [`scoresde.UniformTime`][] (its
    $\sigma(t)$ is geometric).

    ??? cite "Reference"

        ```bibtex
        @inproceedings{lu2022dpmsolver,
            title={{DPM}-Solver: A Fast {ODE} Solver for Diffusion Probabilistic
                   Model Sampling in Around 10 Steps},
            author={Lu, Cheng and Zhou, Yuhao and Bao, Fan and Chen, Jianfei and
                    Li, Chongxuan and Zhu, Jun},
            booktitle={Advances in Neural Information Processing Systems},
            year={2022}
        }
        ```
    """

    def interior(self, sde, t_end, num_steps):
        lam_T = log_snr(sde, sde.T)
        lam_end = log_snr(sde, t_end)
        lam = jnp.linspace(lam_T, lam_end, num_steps + 1)
        return time_at_log_snr(sde, lam)


class RhoTime(AbstractTimeGrid):
    r"""The grid of Karras et al. (2022, eq. 5), equal steps in
    $\tilde\sigma^{1/\rho}$ of the noise level $\tilde\sigma_t = \sigma_t /
    \alpha_t = e^{-\lambda_t}$ (EDM's $\sigma$ of the scaled variable
    $y/\alpha_t$):

    $$\tilde\sigma_i = \Big(\tilde\sigma_{\max}^{1/\rho} + \tfrac{i}{N}\big(
    \tilde\sigma_{\min}^{1/\rho} - \tilde\sigma_{\max}^{1/\rho}\big)\Big)^\rho,$$

    with $\tilde\sigma_{\max} = \tilde\sigma_T$ and $\tilde\sigma_{\min} =
    \tilde\sigma_{t_\text{end}}$. Larger $\rho$ puts more steps at low noise;
    $\rho \to \infty$ tends to [`scoresde.LogSNRTime`][], $\rho = 1$ is uniform
    in $\tilde\sigma$. The default of [`scoresde.EDMHeun`][] ($\rho = 7$).

    **Arguments:**

    - `rho`: $\rho > 0$ (default 7, as in the paper).

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

    rho: float = 7.0

    def __check_init__(self):
        check_positive("rho", self.rho)

    def interior(self, sde, t_end, num_steps):
        # Work with log sigma~ = -lambda, so sigma~^(1/rho) never overflows.
        inv_rho = 1.0 / self.rho
        top = jnp.exp(-inv_rho * log_snr(sde, sde.T))
        bottom = jnp.exp(-inv_rho * log_snr(sde, t_end))
        frac = jnp.linspace(0.0, 1.0, num_steps + 1)
        lam = -self.rho * jnp.log(top + frac * (bottom - top))
        return time_at_log_snr(sde, lam)


def check_time_grid(grid) -> None:
    """A time-grid object; a clear message for anything else (strings included)."""
    if not isinstance(grid, AbstractTimeGrid):
        raise TypeError(
            "`grid` must be a time-grid object such as ss.UniformTime(), "
            f"ss.LogSNRTime() or ss.RhoTime(rho=7.0), got {grid!r}."
        )
