r"""The reverse-time SDE (Anderson 1982) solved with any Diffrax SDE solver."""

import diffrax
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._sde import AbstractSDE
from .._validation import check_int
from ._brownian import GridBrownianPath
from ._nfe import diffrax_nfe
from ._noise import NormalStream
from .base import (
    AbstractFixedStepSampler,
    SamplerOutput,
    ScoreFn,
    check_bool,
    check_fixed_step_solver,
    data_prediction,
    reverse_saveat,
    solver_stats,
)
from .time_grid import AbstractTimeGrid, UniformTime, check_time_grid


class ReverseSDE(AbstractFixedStepSampler):
    r"""Solve the reverse-time SDE of Anderson (1982) (Song et al. 2021, eq. 6)

    $$\mathrm{d}y = \big[f(y, t) - g(t)^2\, \nabla_y \log p_t(y)\big]\,\mathrm{d}t
    + g(t)\,\mathrm{d}\bar w$$

    from $y_T \sim$ the prior at $t = T$ down to $t_\epsilon$, with the score
    function in place of $\nabla_y \log p_t$, using any Diffrax SDE solver with
    `num_steps` steps on a time grid (equal steps by default). Optionally finish with one denoising step at
    $t_\epsilon$ (Tweedie's formula), $\hat y_0 = (y + s^2\, \text{score}) / m$,
    which removes the last step's noise (Song et al. 2021, appendix G;
    Jolicoeur-Martineau et al. 2021).

    The solve runs on the reversed clock $u = T - t$, forwards from $u = 0$ to
    $u = T - t_\epsilon$: $\mathrm{d}y = \big[g^2 \nabla \log p_t - f\big](T - u)
    \,\mathrm{d}u + g(T - u)\,\mathrm{d}W_u$. This is the same equation (the noise
    is additive, so Itô and Stratonovich agree and every Diffrax solver —
    Euler-Maruyama, Heun, SEA, ShARK, SRA1 — converges to it), but the Brownian
    path and the solver only ever step forwards in time, which avoids the
    reported problems of stochastic Runge-Kutta solvers run backwards in time
    (diffrax #598, #560).

    **Arguments:**

    - `solver`: a Diffrax SDE solver (default `diffrax.Euler()`, i.e.
      Euler-Maruyama). Solvers that need space-time Lévy area (SEA, ShARK, SRA1)
      get it.
    - `num_steps`: the number of steps from $T$ to $t_\epsilon$.
    - `denoise`: whether to apply the final Tweedie denoising step (one extra
      score evaluation).
    - `grid`: where the steps fall, a time-grid object (default
      [`scoresde.UniformTime`][]: equal steps).

    !!! example

        ```python
        import diffrax
        import jax
        import scoresde as ss

        mix = ss.datasets.get("mixture-1d")
        sde = ss.VPSDE()
        ys = ss.sample(jax.random.key(0), sde, ss.exact_score(mix, sde),
                       num_samples=1000, shape=(1,),
                       sampler=ss.ReverseSDE(diffrax.ShARK(), num_steps=100))
        ```
    """

    solver: diffrax.AbstractSolver = diffrax.Euler()
    num_steps: int = 1000
    denoise: bool = True
    grid: AbstractTimeGrid = UniformTime()

    def __check_init__(self):
        check_fixed_step_solver(self.solver, "ReverseSDE")
        check_int("num_steps", self.num_steps, minimum=1)
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
        T = sde.T
        key_prior, key_path = jax.random.split(key)
        y_T = sde.prior_sample(key_prior, shape)
        n = y_T.size

        def drift(u, y, args):
            t = T - u
            y = y.reshape(shape)
            return -sde.reverse_drift(t, y, score_fn(t, y)).reshape(-1)

        def diffusion(u, y, args):
            g = sde.diffusion(T - u)
            return lx.DiagonalLinearOperator(jnp.full((n,), g, y.dtype))

        # Fixed steps need only independent increments per step: a path like
        # diffrax.UnsafeBrownianPath (Diffrax's recommendation for fixed steps
        # without backpropagation), here from a counter-based stream. A
        # VirtualBrownianTree (needed for adaptive steps and adjoints) costs a
        # binary search per step and is about 10x slower (diffrax #489).
        levy_area = _levy_area(self.solver)
        us = T - self.grid(sde, t_eps, self.num_steps).astype(y_T.dtype)
        brownian = GridBrownianPath(
            jax.ShapeDtypeStruct((n,), y_T.dtype),
            us,
            NormalStream.from_key(key_path),
            levy_area,
        )
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian)
        )
        saveat = reverse_saveat(T, save_ts)
        sol = diffrax.diffeqsolve(
            terms,
            self.solver,
            us[0],
            us[-1],
            None,
            y_T.reshape(-1),
            saveat=saveat,
            stepsize_controller=diffrax.StepTo(us),
            max_steps=self.num_steps,
            progress_meter=progress_meter,
            adjoint=diffrax.ForwardMode(),
        )
        y = sol.ys[-1].reshape(shape)
        trajectory = None if save_ts is None else sol.ys[:-1].reshape(-1, *shape)
        if self.denoise:
            y = data_prediction(sde, score_fn, t_eps, y)
        nfe = diffrax_nfe(
            self.solver, sol.stats["num_steps"], sde=True, extra=int(self.denoise)
        )
        return SamplerOutput(y, trajectory, solver_stats(sol, nfe))


def _levy_area(solver: diffrax.AbstractSolver) -> type:
    """The Brownian information `solver` needs: space-time Lévy area for the
    stochastic Runge-Kutta solvers that ask for it (SEA, ShARK, SRA1), the
    increment alone otherwise."""
    if isinstance(solver, diffrax.AbstractSRK) and issubclass(
        diffrax.SpaceTimeLevyArea, solver.minimal_levy_area
    ):
        if solver.minimal_levy_area is not diffrax.BrownianIncrement:
            return diffrax.SpaceTimeLevyArea
    return diffrax.BrownianIncrement
