"""The sampler registry: the names `scoresde sample --sampler` knows, each with
the sampler it builds and the command-line parameters it takes.

Adding a sampler means one new module in this package and one
`SAMPLERS.register` line here.
"""

from .._registry import Param, Registry, nonnegative
from .ancestral import Ancestral
from .annealed_langevin import AnnealedLangevin
from .base import AbstractSampler
from .ddim import DDIM
from .dpm_solver import DPMSolver
from .edm_heun import EDMHeun
from .predictor_corrector import PredictorCorrector
from .probability_flow import ProbabilityFlowODE
from .reverse_sde import ReverseSDE


_TOL = "pf-ode: {} tolerance of the adaptive solver"

SAMPLERS: Registry[AbstractSampler] = Registry("sampler")
SAMPLERS.register(
    "pf-ode",
    ProbabilityFlowODE,
    "probability-flow ODE, adaptive Tsit5 (Song et al. 2021)",
    (
        Param("rtol", 1e-5, _TOL.format("relative")),
        Param("atol", 1e-5, _TOL.format("absolute")),
    ),
)
SAMPLERS.register(
    "reverse-sde",
    ReverseSDE,
    "reverse-time SDE, Euler-Maruyama",
    (Param("num_steps", 1000, "number of steps", int, cli_name="steps"),),
)
SAMPLERS.register(
    "pc",
    PredictorCorrector,
    "predictor-corrector (reverse diffusion + Langevin)",
    (
        Param("num_steps", 1000, "number of steps", int, cli_name="steps"),
        Param("snr", 0.16, "corrector signal-to-noise ratio"),
    ),
)
SAMPLERS.register(
    "ancestral", Ancestral, "DDPM ancestral sampling (discrete VP chains)"
)
SAMPLERS.register(
    "annealed-langevin",
    AnnealedLangevin,
    "annealed Langevin dynamics (NCSN, discrete VE chains)",
    (
        Param("steps_per_level", 100, "steps per noise level", int, cli_name="steps"),
        Param("step_size", None, "annealed-langevin: base step size"),
    ),
)
SAMPLERS.register(
    "dpm-solver",
    DPMSolver,
    "DPM-Solver++ multistep (Lu et al. 2022); NFE = steps",
    (
        Param("num_steps", 10, "number of steps", int, cli_name="steps"),
        Param("order", 2, "dpm-solver: order 1-3", int),
    ),
)
SAMPLERS.register(
    "dpm-solver-sde",
    lambda num_steps: DPMSolver(num_steps=num_steps, order=2, stochastic=True),
    "SDE-DPM-Solver++(2M) (Lu et al. 2022); NFE = steps",
    (Param("num_steps", 10, "number of steps", int, cli_name="steps"),),
)
SAMPLERS.register(
    "edm-heun",
    EDMHeun,
    "EDM's Heun sampler (Karras et al. 2022, Alg. 2); NFE = 2 steps - 1",
    (
        Param("num_steps", 18, "number of steps", int, cli_name="steps"),
        Param("churn", 0.0, "edm-heun: stochastic churn S_churn", nonnegative),
    ),
)
SAMPLERS.register(
    "ddim",
    DDIM,
    "DDIM (Song, Meng & Ermon 2021); NFE = steps",
    (
        Param("num_steps", 50, "number of steps", int, cli_name="steps"),
        Param(
            "eta",
            0.0,
            "ddim: noise level eta (0 deterministic, 1 ancestral)",
            nonnegative,
        ),
    ),
)
