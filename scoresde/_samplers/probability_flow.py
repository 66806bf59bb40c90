r"""The probability-flow ODE (Song et al. 2021, eq. 13) with any Diffrax ODE solver."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int, check_positive
from ._nfe import evals_per_step
from .base import (
    AbstractSampler,
    SamplerOutput,
    ScoreFn,
    check_fixed_step_solver,
    solver_stats,
)


class ProbabilityFlowODE(AbstractSampler):
    r"""Solve the probability-flow ODE of Song et al. (2021, eq. 13),

    $$\frac{\mathrm{d}y}{\mathrm{d}t} = f(y, t) - \tfrac12 g(t)^2\,
    \nabla_y \log p_t(y),$$

    from $y_T \sim$ the prior at $t = T$ down to $t_\epsilon$, with the score
    function in place of $\nabla_y \log p_t$. Its solutions carry $p_T$ to $p_t$
    for every $t$ (the same marginals as the SDE), deterministically, so the map
    $y_T \mapsto y_{t_\epsilon}$ is invertible: see
    [`scoresde.ProbabilityFlowODE.encode`][] and
    [`scoresde.ProbabilityFlowODE.decode`][].

    **Arguments:**

    - `solver`: any Diffrax ODE solver (default `diffrax.Tsit5()`).
    - `rtol`, `atol`: tolerances of the adaptive step-size controller
      (`diffrax.PIDController`), used when `num_steps` is `None`.
    - `num_steps`: `None` (default) for adaptive steps, or a number of equal
      steps (needed for solvers without an error estimate, such as
      `diffrax.Euler()`).

    Each sample is solved with its own adaptive steps (the solve is `vmap`ped);
    under `vmap` the batch runs until its slowest sample is done, so the cost of
    a batch is its largest step count. `max_steps` is 16384 steps per sample.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-5
    atol: float = 1e-5
    num_steps: int | None = None

    def __check_init__(self):
        check_fixed_step_solver(self.solver, "ProbabilityFlowODE")
        check_positive("rtol", self.rtol)
        check_positive("atol", self.atol)
        if self.num_steps is None:
            if not isinstance(self.solver, diffrax.AbstractAdaptiveSolver):
                raise ValueError(
                    f"`solver` {type(self.solver).__name__}() has no error estimate, "
                    "so it cannot choose its own steps: pass `num_steps` (a number "
                    "of equal steps), or use an adaptive solver such as Tsit5()."
                )
        else:
            check_int("num_steps", self.num_steps, minimum=1)

    def _solve(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        y0: Array,
        t0: float,
        t1: float,
        saveat: diffrax.SaveAt,
        progress_meter: diffrax.AbstractProgressMeter,
    ) -> tuple[diffrax.Solution, Array]:
        def vector_field(t, y, args):
            return sde.probability_flow_drift(t, y, score_fn(t, y))

        if self.num_steps is None:
            controller = diffrax.PIDController(rtol=self.rtol, atol=self.atol)
            dt0, max_steps = None, 16384
        else:
            controller = diffrax.ConstantStepSize()
            dt0, max_steps = (t1 - t0) / self.num_steps, self.num_steps
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field),
            self.solver,
            t0,
            t1,
            dt0,
            y0,
            saveat=saveat,
            stepsize_controller=controller,
            max_steps=max_steps,
            progress_meter=progress_meter,
            adjoint=diffrax.ForwardMode(),
        )
        per_step, at_init = evals_per_step(self.solver, sde=False)
        # The initial step size costs no evaluations: Diffrax's heuristic only runs
        # for a bare ODETerm, and the solve wraps it (checked in the tests).
        nfe = sol.stats["num_steps"] * per_step + at_init
        if per_step < 0:
            nfe = jnp.full_like(nfe, -1)
        return sol, nfe

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
        y_T = sde.prior_sample(key, shape)
        saveat = (
            diffrax.SaveAt(t1=True)
            if save_ts is None
            else diffrax.SaveAt(ts=save_ts, t1=True)
        )
        sol, nfe = self._solve(sde, score_fn, y_T, sde.T, t_eps, saveat, progress_meter)
        trajectory = None if save_ts is None else sol.ys[:-1]
        return SamplerOutput(sol.ys[-1], trajectory, solver_stats(sol, nfe))

    def encode(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        ys: Float[ArrayLike, " n *shape"],
        *,
        t_eps: float = 1e-3,
    ) -> Float[Array, " n *shape"]:
        r"""Map data to latent codes: solve the probability-flow ODE forwards from
        $t_\epsilon$ to $T$ for each sample in `ys` (a batch, shape
        `(n, *shape)`). The inverse of [`scoresde.ProbabilityFlowODE.decode`][] up
        to the solver's tolerance."""
        return _flow(self, sde, score_fn, ys, t_eps, forward=True)

    def decode(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        zs: Float[ArrayLike, " n *shape"],
        *,
        t_eps: float = 1e-3,
    ) -> Float[Array, " n *shape"]:
        r"""Map latent codes `zs` (shape `(n, *shape)`) to data: solve the
        probability-flow ODE backwards from $T$ to $t_\epsilon$. With
        `zs` drawn from the prior this is exactly what [`scoresde.sample`][] does
        with this sampler."""
        return _flow(self, sde, score_fn, zs, t_eps, forward=False)


def _flow(sampler, sde, score_fn, ys, t_eps, *, forward):
    from .._sample import check_sampling_inputs

    ys = jnp.asarray(ys)
    if ys.ndim < 1:
        raise ValueError(
            f"`ys` must be a batch of shape (n, *shape), got shape {ys.shape}."
        )
    t_eps = check_sampling_inputs(sde, score_fn, ys.shape[1:], t_eps)
    return _flow_jit(sampler, sde, score_fn, ys, t_eps, forward)


@eqx.filter_jit
def _flow_jit(sampler, sde, score_fn, ys, t_eps, forward):
    t0, t1 = (t_eps, sde.T) if forward else (sde.T, t_eps)

    def one(y):
        sol, _ = sampler._solve(
            sde, score_fn, y, t0, t1, diffrax.SaveAt(t1=True), diffrax.NoProgressMeter()
        )
        return sol.ys[-1]

    return jax.vmap(one)(ys)
