"""How many score evaluations a sampler makes: the one place where NFE is counted.

The NFE of a Diffrax solve is read off the solver's statistics and its stage
structure (exact for the solvers below; tests check it against a counting
score function). The grid solvers of `_grid_solver.py` count
`steps x evals_per_step`.

Convention: an NFE that is not known (a Diffrax solver whose stage structure is
not listed here, such as an implicit solver, whose root finds vary) is
`UNKNOWN_NFE` = -1, so that `stats["nfe"]` stays an integer array."""

import diffrax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int


#: The value of `stats["nfe"]` where the count is not known.
UNKNOWN_NFE = -1


def evals_per_step(
    solver: diffrax.AbstractSolver, *, sde: bool
) -> tuple[int, int] | None:
    """`(per_step, at_init)`: vector-field (score) evaluations per attempted step
    of `solver`, and those made once when it is initialised (the
    first-same-as-last stage of an ODE solve), or `None` for a solver whose
    structure is not known here. `sde`: whether the solve is of an SDE (FSAL
    does not apply there)."""
    if isinstance(solver, (diffrax.Euler, diffrax.EulerHeun)):
        return 1, 0
    if isinstance(solver, diffrax.AbstractSRK):
        tableau = solver.tableau
        stages = len(tableau.b_sol)
        ignored = tableau.ignore_stage_f
        skipped = 0 if ignored is None else int(np.sum(ignored))
        return stages - skipped, 0
    if isinstance(solver, diffrax.AbstractERK):
        tableau = solver.tableau
        stages = tableau.num_stages
        if tableau.fsal and not sde:
            return stages - 1, 1
        return stages, 0
    return None


def diffrax_nfe(
    solver: diffrax.AbstractSolver,
    num_steps: Int[Array, ""],
    *,
    sde: bool,
    extra: int = 0,
) -> Int[Array, ""]:
    """The score evaluations of a Diffrax solve with `solver` that attempted
    `num_steps` steps, plus `extra` made outside the solve (a final denoising
    step), or `UNKNOWN_NFE`. The initial step size costs none: Diffrax's
    heuristic only runs for a bare `ODETerm`, which the samplers wrap (checked in
    the tests)."""
    counts = evals_per_step(solver, sde=sde)
    if counts is None:
        return jnp.full_like(num_steps, UNKNOWN_NFE)
    per_step, at_init = counts
    return num_steps * per_step + at_init + extra
