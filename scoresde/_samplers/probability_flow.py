r"""The probability-flow ODE (Song et al. 2021, eq. 13) with any Diffrax ODE solver."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from .._custom_types import KeyArray
from .._nonfinite import check_finite_score
from .._sde import AbstractSDE
from .._validation import check_int, check_positive
from ._inputs import check_sampling_inputs
from ._nfe import diffrax_nfe
from .base import (
    SAMPLE_AXIS,
    AbstractContinuousSampler,
    SamplerOutput,
    ScoreFn,
    check_bool,
    check_fixed_step_solver,
    solver_stats,
    vmap_over_samples,
)
from .time_grid import AbstractTimeGrid, UniformTime, check_time_grid


class ProbabilityFlowODE(AbstractContinuousSampler):
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
    - `num_steps`: `None` (default) for adaptive steps, or a number of fixed
      steps on `grid` (needed for solvers without an error estimate, such as
      `diffrax.Euler()`).
    - `grid`: where the fixed steps fall, a time-grid object (default
      [`scoresde.UniformTime`][], equal steps; [`scoresde.RhoTime`][] does much
      better for few steps). Not used with adaptive steps.
    - `shared_steps`: how adaptive steps are chosen for a batch.
        - `True` (default): all samples of a batch take the same steps, each
          accepted only if **every** sample's error estimate meets the
          tolerance (the error norm is the largest per-sample RMS norm), so
          every sample is solved at least as accurately as on its own. Each
          sample's own arithmetic is that of a solve on its own, and the
          largest error is exact, so a sample depends on its key and on the
          largest error of its batch only: the same on 1 or many devices.
          Changing the batch (or the `chunk_size` of [`scoresde.sample`][])
          changes a sample by no more than the solver's error.
        - `False`: each sample is solved with its own adaptive steps, so a
          sample depends on its key alone. Under `vmap` the batch runs until
          its slowest sample is done. In one dimension the per-sample error
          estimate can vanish by chance (it changes sign along the path), and
          such a sample then takes a step that is far too long.

    `max_steps` is 16384 steps per solve.

    On `mixture-1d` shared steps are both faster and more accurate than
    per-sample steps: see the measurements in `benchmarks/sampling.py` and the
    Sampling tutorial.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-5
    atol: float = 1e-5
    num_steps: int | None = None
    shared_steps: bool = True
    grid: AbstractTimeGrid = UniformTime()

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
        check_bool("shared_steps", self.shared_steps)
        check_time_grid(self.grid)

    @property
    def _shared(self) -> bool:
        """Whether the samples of a batch share their adaptive steps."""
        return self.shared_steps and self.num_steps is None

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
        """Solve from `t0` to `t1` for one sample `y0`. With shared steps this runs
        under `vmap` over the axis `SAMPLE_AXIS` (the batch)."""

        def vector_field(t, y, args):
            return sde.probability_flow_drift(t, y, score_fn(t, y))

        if self.num_steps is None:
            norm = dict(norm=_largest_sample_rms) if self._shared else {}
            controller = diffrax.PIDController(rtol=self.rtol, atol=self.atol, **norm)
            dt0, max_steps = None, 16384
        else:
            # The grid runs from T down; a forward solve (encode) takes it reversed.
            ts = self.grid(sde, min(t0, t1), self.num_steps)
            ts = ts if t0 > t1 else ts[::-1]
            controller = diffrax.StepTo(ts)
            dt0, max_steps = None, self.num_steps
            t0, t1 = ts[0], ts[-1]
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
        return sol, diffrax_nfe(self.solver, sol.stats["num_steps"], sde=False)

    def sample_batch(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        keys: KeyArray,
        shape: tuple[int, ...],
        *,
        t_eps: float,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
        labels: Int[Array, " n"] | None = None,
    ) -> SamplerOutput:
        saveat = _saveat(save_ts)

        def one(score, key):
            y_T = sde.prior_sample(key, shape)
            sol, nfe = self._solve(
                sde, score, y_T, sde.T, t_eps, saveat, progress_meter
            )
            trajectory = None if save_ts is None else sol.ys[:-1]
            return SamplerOutput(sol.ys[-1], trajectory, solver_stats(sol, nfe))

        return vmap_over_samples(one, score_fn, keys, labels)

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
    ys = jnp.asarray(ys)
    if ys.ndim < 1 or ys.shape[0] == 0:
        raise ValueError(
            "`ys` must be a batch of shape (n, *shape) with n >= 1, got shape "
            f"{ys.shape}."
        )
    t_eps = check_sampling_inputs(sde, score_fn, ys.shape[1:], t_eps)
    score_fn = check_finite_score(score_fn, T=float(sde.T))
    return _flow_jit(sampler, sde, score_fn, ys, t_eps, forward)


@eqx.filter_jit
def _flow_jit(sampler, sde, score_fn, ys, t_eps, forward):
    t0, t1 = (t_eps, sde.T) if forward else (sde.T, t_eps)
    saveat = diffrax.SaveAt(t1=True)
    meter = diffrax.NoProgressMeter()

    def one(y):
        sol, _ = sampler._solve(sde, score_fn, y, t0, t1, saveat, meter)
        return sol.ys[-1]

    return jax.vmap(one, axis_name=SAMPLE_AXIS)(ys)


def _saveat(save_ts: Array | None) -> diffrax.SaveAt:
    """Save the final state, and the states at `save_ts` when given: `ys[:-1]` is
    then the trajectory and `ys[-1]` the final state."""
    if save_ts is None:
        return diffrax.SaveAt(t1=True)
    return diffrax.SaveAt(ts=save_ts, t1=True)


def _largest_sample_rms(error) -> Array:
    """Shared steps: the largest per-sample RMS norm over the batch (the `vmap`
    axis `SAMPLE_AXIS`), so that every sample accepts and rejects the same steps.
    A maximum is exact, so how the batch is split over devices does not change
    the steps. The result is unbatched, so the solver's time is one scalar for
    the batch and a network evaluates its time embedding once per stage (keeping
    it batched, one time per sample, measured 1.4x slower with an MLP)."""
    leaves = jax.tree_util.tree_leaves(error)
    size = sum(x.size for x in leaves)
    own = jnp.sqrt(sum(jnp.sum(x**2) for x in leaves) / size)
    return jax.lax.pmax(own, SAMPLE_AXIS)
