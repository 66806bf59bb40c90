"""The sampler registry: the names `scoresde sample --sampler` knows, each with
the sampler it builds and the command-line parameters it takes.

Adding a sampler means one new module in this package and one
`SAMPLERS.register` line here.
"""

from .._registry import Param, Registry
from .ancestral import Ancestral
from .annealed_langevin import AnnealedLangevin
from .base import AbstractSampler
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
        Param("step_size", None, "base step size (default: the class's)"),
    ),
)
