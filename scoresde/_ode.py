r"""How to solve an ODE with Diffrax: one configuration object for the
probability-flow ODE's solves (likelihoods; encoding and decoding)."""

import diffrax
import equinox as eqx
import numpy as np

from ._validation import check_int, check_positive


class ODESolve(eqx.Module):
    r"""How [`scoresde.log_likelihood`][] solves its ODE: a Diffrax solver and
    either adaptive steps (a PID controller with `rtol`, `atol`), `num_steps`
    equal steps, or your own Diffrax step-size controller.

    **Arguments:**

    - `solver`: any Diffrax ODE solver (default `diffrax.Tsit5()`).
    - `rtol`, `atol`: tolerances of the adaptive step-size controller (default
      $10^{-5}$ each). The error is measured in the max norm over every
      component of the state, so no component is diluted by the others.
    - `max_steps`: the most steps one solve may take (default 4096); exceeding
      it is an error.
    - `num_steps`: take this many equal steps instead of adaptive ones
      (required for solvers without an error estimate, such as
      `diffrax.Euler()`).
    - `shared_steps`: how adaptive steps are chosen for a batch of points.
        - `True` (default): the batch (a chunk of [`scoresde.log_likelihood`][])
          is solved as one system whose points all take the same steps, each
          step accepted only if **every** point's error meets the tolerance (the
          max norm over all points and components), so every point is solved
          at least as accurately as on its own; the score is evaluated at one
          time for the whole batch. Points are coupled only through the step
          sizes: changing the batch changes a result by no more than the
          solver's error.
        - `False`: each point takes its own adaptive steps (the solve is
          `vmap`ped), so a result depends on its point alone.

      Fixed steps (`num_steps`, or a `diffrax.StepTo` controller) are the same
      either way, and a `stepsize_controller` of your own measures the error
      with its own norm, point by point.
    - `stepsize_controller`: any Diffrax step-size controller, overriding
      `rtol`, `atol` (e.g. `diffrax.StepTo` with your own grid, or a
      `diffrax.PIDController` of your own). Not together with `num_steps`.

    **Raises:** `TypeError`/`ValueError` at construction naming the argument.

    !!! example

        ```python
        import diffrax
        import scoresde as ss

        tight = ss.ODESolve(rtol=1e-6, atol=1e-6)
        fixed = ss.ODESolve(solver=diffrax.Heun(), num_steps=100)
        ```
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-5
    atol: float = 1e-5
    max_steps: int = 4096
    num_steps: int | None = None
    stepsize_controller: diffrax.AbstractStepSizeController | None = None
    shared_steps: bool = True

    def __check_init__(self):
        if not isinstance(self.shared_steps, bool):
            raise TypeError(
                f"`shared_steps` must be a bool, got {self.shared_steps!r}."
            )
        if not isinstance(self.solver, diffrax.AbstractSolver):
            raise TypeError(
                "`solver` must be a Diffrax solver such as diffrax.Tsit5(), got "
                f"{type(self.solver).__name__}."
            )
        check_positive("rtol", self.rtol)
        check_positive("atol", self.atol)
        check_int("max_steps", self.max_steps, minimum=1)
        if self.stepsize_controller is not None:
            if not isinstance(
                self.stepsize_controller, diffrax.AbstractStepSizeController
            ):
                raise TypeError(
                    "`stepsize_controller` must be a Diffrax step-size controller, "
                    f"got {type(self.stepsize_controller).__name__}."
                )
            if self.num_steps is not None:
                raise ValueError("Pass `num_steps` or `stepsize_controller`, not both.")
        elif self.num_steps is not None:
            check_int("num_steps", self.num_steps, minimum=1)
        elif not isinstance(self.solver, diffrax.AbstractAdaptiveSolver):
            raise ValueError(
                f"`solver` {type(self.solver).__name__} has no error estimate, so it "
                "cannot choose its own steps: pass `num_steps` for equal steps, or "
                "use an adaptive solver such as diffrax.Tsit5()."
            )

    def controller(
        self, t0: float, t1: float, norm
    ) -> tuple[diffrax.AbstractStepSizeController, int]:
        """The step-size controller for a solve from `t0` to `t1` (adaptive ones
        measure the error with `norm`), and the step budget."""
        if self.stepsize_controller is not None:
            return self.stepsize_controller, self.max_steps
        if self.num_steps is None:
            pid = diffrax.PIDController(rtol=self.rtol, atol=self.atol, norm=norm)
            return pid, self.max_steps
        grid = diffrax.StepTo(ts=np.linspace(t0, t1, self.num_steps + 1))
        return grid, self.num_steps
