r"""Diffrax solvers whose step is a random update of a sampling chain.

Predictor-corrector, ancestral and annealed-Langevin sampling are Markov chains
on a grid of times, not discretisations of one SDE with a Brownian path of its
own: each step draws fresh Gaussians (several, for the corrector). They are
written here as Diffrax solvers, so that every sampler of scoresde goes through
`diffrax.diffeqsolve` — with its step-size controllers, `SaveAt`, progress meters
and statistics — rather than a hand-written loop. The solver's state is the
sample's counter-based normal stream and the step index: draw $j$ of step $k$
is the stream's draw $k \cdot D + j$, $D$ = `draws_per_step`."""

import abc
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._custom_types import KeyArray, default_float
from .._sde import AbstractSDE
from ._noise import NormalStream
from .base import ScoreFn, reverse_saveat, solver_stats


class StepNoise(eqx.Module):
    """The standard normal draws of one chain step: `noise(j, like)` is draw `j`
    (`0 <= j < draws_per_step`, traced or not) with the shape and dtype of
    `like`."""

    stream: NormalStream
    first: Array

    def __call__(self, j, like: Array) -> Array:
        counter = self.first + jnp.asarray(j).astype(jnp.uint32)
        return self.stream.normal(counter, like.shape, like.dtype)


class AbstractChainSolver(diffrax.AbstractSolver):
    """A Diffrax solver whose step from reversed time $u_0$ to $u_1$ is
    `update(score, t, t_next, y, noise)` with $t = T - u_0$, $t_\text{next} = T -
    u_1$ and `noise` the step's `StepNoise`.
    """

    sde: eqx.AbstractVar[AbstractSDE]

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    @abc.abstractmethod
    def update(
        self,
        score: Callable[[Array, Array], Array],
        t: Array,
        t_next: Array,
        y: Array,
        noise: StepNoise,
    ) -> Array:
        """One step of the chain from time `t` down to `t_next`."""

    @property
    @abc.abstractmethod
    def evals_per_step(self) -> int:
        """Score evaluations per step."""

    @property
    @abc.abstractmethod
    def draws_per_step(self) -> int:
        """Gaussian draws (each of the sample's shape) per step."""

    def order(self, terms):
        return None

    def init(self, terms, t0, t1, y0, args) -> tuple[NormalStream, Array]:
        return args, jnp.zeros((), jnp.uint32)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        T = self.sde.T
        stream, index = solver_state

        def score(t, y):
            return terms.vf(T - t, y, args)

        noise = StepNoise(stream, index * self.draws_per_step)
        y1 = self.update(score, T - t0, T - t1, y0, noise)
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, (stream, index + 1), diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


def solve_chain(
    solver: AbstractChainSolver,
    score_fn: ScoreFn,
    key: KeyArray,
    shape: tuple[int, ...],
    ts: np.ndarray,
    save_ts: Array | None,
    progress_meter: diffrax.AbstractProgressMeter,
) -> tuple[Array, Array | None, dict[str, Array]]:
    """Draw $y_T$ from the prior of `solver.sde` and run `solver` from $t = T$ down
    through the descending grid `ts` (a NumPy array whose first entry is $T$).
    Returns `(y, trajectory, stats)`."""
    key_prior, key_noise = jax.random.split(key)
    y_T = solver.sde.prior_sample(key_prior, shape)
    T = solver.sde.T
    # The grid is a NumPy constant: the endpoints must equal `us[0]` and `us[-1]`
    # bit for bit (StepTo checks), which values recomputed under XLA need not.
    us = np.asarray(T - np.asarray(ts, np.float64), dtype=default_float())
    # The stream rides in `args` to initialise the solver state; the term ignores
    # it.
    term = diffrax.ODETerm(lambda u, y, args: score_fn(T - u, y))
    num_steps = ts.shape[0] - 1
    sol = diffrax.diffeqsolve(
        term,
        solver,
        float(us[0]),
        float(us[-1]),
        None,
        y_T,
        args=NormalStream.from_key(key_noise),
        saveat=reverse_saveat(T, save_ts),
        stepsize_controller=diffrax.StepTo(jnp.asarray(us)),
        max_steps=num_steps,
        progress_meter=progress_meter,
    )
    nfe = sol.stats["num_steps"] * solver.evals_per_step
    trajectory = None if save_ts is None else sol.ys[:-1]
    return sol.ys[-1], trajectory, solver_stats(sol, nfe)


def uniform_grid(T: float, t_eps: float, num_steps: int) -> np.ndarray:
    """`num_steps + 1` equally spaced times from $T$ down to $t_\\epsilon$."""
    return np.linspace(T, t_eps, num_steps + 1)


def discrete_grid(num_steps: int) -> np.ndarray:
    """The grid $t_i = i/N$ of a discrete SDE, from $i = N$ down to 0."""
    return np.arange(num_steps, -1, -1, dtype=np.float64) / num_steps
