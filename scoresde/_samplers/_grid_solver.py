r"""Diffrax solvers whose step is one update of a sampler on a time grid.

Predictor-corrector, ancestral and annealed-Langevin sampling are Markov chains
on a grid of times, and DDIM, DPM-Solver++ and EDM's Heun sampler are
(multistep) integrators written in the SDE's $(\alpha_t, \sigma_t)$ rather than
Runge-Kutta schemes for a vector field. They are written here as Diffrax
solvers, so that every sampler of scoresde goes through `diffrax.diffeqsolve` —
with its step-size controllers, `SaveAt`, progress meters and statistics —
rather than a hand-written loop.

The solve runs on the reversed clock $u = T - t$ (forwards in $u$). The
solver's state is the sample's counter-based normal stream, the step index $k$
and the solver's `memory` (the multistep history of DPM-Solver++, `None` for
one-step updates); draw $j$ of step $k$ is the stream's draw $k \cdot D + j$,
$D$ = `draws_per_step`."""

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import KeyArray, default_float
from .._sde import AbstractSDE
from ._noise import NormalStream
from .base import ScoreFn, reverse_saveat, solver_stats


class StepNoise(eqx.Module):
    """The standard normal draws of one step, and its index: `noise(j, like)` is
    draw `j` (`0 <= j < draws_per_step`, traced or not) with the shape and dtype
    of `like`; `noise.step` is the 0-based index of the step."""

    stream: NormalStream
    step: Array
    draws_per_step: int = eqx.field(static=True)

    def __call__(self, j, like: Array) -> Array:
        first = self.step.astype(jnp.uint32) * jnp.uint32(self.draws_per_step)
        counter = first + jnp.asarray(j).astype(jnp.uint32)
        return self.stream.normal(counter, like.shape, like.dtype)


class AbstractGridSolver(diffrax.AbstractSolver):
    r"""A Diffrax solver whose step from reversed time $u_0$ to $u_1$ is
    `multistep_update(score, t, t_next, y, noise, memory) -> (y_next, memory)`
    with $t = T - u_0$, $t_\text{next} = T - u_1$, `noise` the step's
    `StepNoise` and `memory` what the previous step left (from `init_memory`
    on the first)."""

    sde: eqx.AbstractVar[AbstractSDE]

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    @property
    @abc.abstractmethod
    def evals_per_step(self) -> int:
        """Score evaluations per step."""

    @property
    @abc.abstractmethod
    def draws_per_step(self) -> int:
        """Gaussian draws (each of the sample's shape) per step."""

    @abc.abstractmethod
    def init_memory(self, y: Array) -> Any:
        """The memory before the first step (a pytree of arrays, or `None`)."""

    @abc.abstractmethod
    def multistep_update(
        self,
        score: ScoreFn,
        t: Array,
        t_next: Array,
        y: Array,
        noise: StepNoise,
        memory: Any,
    ) -> tuple[Array, Any]:
        """One step from time `t` down to `t_next`: the new state and memory."""

    def order(self, terms):
        return None

    def init(self, terms, t0, t1, y0, args):
        return args, jnp.zeros((), jnp.int32), self.init_memory(y0)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        T = self.sde.T
        stream, index, memory = solver_state

        def score(t, y):
            return terms.vf(T - t, y, args)

        noise = StepNoise(stream, index, self.draws_per_step)
        y1, memory = self.multistep_update(score, T - t0, T - t1, y0, noise, memory)
        dense_info = dict(y0=y0, y1=y1)
        state = (stream, index + 1, memory)
        return y1, None, dense_info, state, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


class AbstractChainSolver(AbstractGridSolver):
    """A grid solver without memory: each step is `update(score, t, t_next, y,
    noise)` (a Markov chain's step, or a one-step integrator)."""

    @abc.abstractmethod
    def update(
        self,
        score: ScoreFn,
        t: Array,
        t_next: Array,
        y: Array,
        noise: StepNoise,
    ) -> Array:
        """One step of the chain from time `t` down to `t_next`."""

    def init_memory(self, y):
        return None

    def multistep_update(self, score, t, t_next, y, noise, memory):
        return self.update(score, t, t_next, y, noise), memory


def solve_on_grid(
    solver: AbstractGridSolver,
    score_fn: ScoreFn,
    key: KeyArray,
    shape: tuple[int, ...],
    ts: Float[Array, " steps_plus_one"],
    save_ts: Array | None,
    progress_meter: diffrax.AbstractProgressMeter,
) -> tuple[Array, Array | None, dict[str, Array]]:
    """Draw $y_T$ from the prior of `solver.sde` and run `solver` from $t = T$ down
    through the descending grid `ts` (first entry $T$). Returns `(y, trajectory,
    stats)`, with `stats["nfe"]` = steps x `solver.evals_per_step`."""
    key_prior, key_noise = jax.random.split(key)
    y_T = solver.sde.prior_sample(key_prior, shape)
    T = solver.sde.T
    us = T - jnp.asarray(ts, y_T.dtype)
    # The stream rides in `args` to initialise the solver state; the term ignores
    # it.
    term = diffrax.ODETerm(lambda u, y, args: score_fn(T - u, y))
    num_steps = ts.shape[0] - 1
    sol = diffrax.diffeqsolve(
        term,
        solver,
        us[0],
        us[-1],
        None,
        y_T,
        args=NormalStream.from_key(key_noise),
        saveat=reverse_saveat(T, save_ts),
        stepsize_controller=diffrax.StepTo(us),
        max_steps=num_steps,
        progress_meter=progress_meter,
    )
    nfe = sol.stats["num_steps"] * solver.evals_per_step
    trajectory = None if save_ts is None else sol.ys[:-1]
    return sol.ys[-1], trajectory, solver_stats(sol, nfe)


def discrete_grid(num_steps: int) -> Float[Array, " steps_plus_one"]:
    """The grid $t_i = i/N$ of a discrete SDE, from $i = N$ down to 0."""
    # On the host, in float64: exact endpoints (XLA may divide by multiplying with
    # the reciprocal, which makes N/N = 1 + 5e-8 for N = 500, and Diffrax then
    # rejects the grid's first point as the solve's t0).
    grid = np.arange(num_steps, -1, -1, dtype=np.float64) / num_steps
    return jnp.asarray(grid, default_float())
