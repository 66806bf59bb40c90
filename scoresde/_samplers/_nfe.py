"""How many score evaluations a Diffrax solver makes: the NFE of a solve is read
off the solver's statistics and its stage structure (exact for the solvers below;
tests check it against a counting score function)."""

import diffrax
import numpy as np


def evals_per_step(solver: diffrax.AbstractSolver, *, sde: bool) -> tuple[int, int]:
    """`(per_step, at_init)`: drift (score) evaluations per attempted step, and
    those made once when the solver is initialised (the first-same-as-last stage).
    Returns `(-1, 0)` for a solver whose structure is not known here."""
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
    return -1, 0
