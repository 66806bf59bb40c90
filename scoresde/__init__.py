"""scoresde: continuous-time score-based generative modelling in JAX."""

import importlib.metadata

from . import datasets as datasets, metrics as metrics, plotting as plotting
from ._exact import ExactScore as ExactScore, exact_score as exact_score
from ._likelihood import bits_per_dim as bits_per_dim, log_likelihood as log_likelihood
from ._sample import sample as sample
from ._samplers import (
    AbstractPredictor as AbstractPredictor,
    AbstractSampler as AbstractSampler,
    Ancestral as Ancestral,
    AnnealedLangevin as AnnealedLangevin,
    EulerMaruyamaPredictor as EulerMaruyamaPredictor,
    LangevinCorrector as LangevinCorrector,
    PredictorCorrector as PredictorCorrector,
    ProbabilityFlowODE as ProbabilityFlowODE,
    ReverseDiffusionPredictor as ReverseDiffusionPredictor,
    ReverseSDE as ReverseSDE,
    langevin as langevin,
)
from ._sde import (
    DDPM as DDPM,
    NCSN as NCSN,
    VESDE as VESDE,
    VPSDE as VPSDE,
    AbstractDiscreteSDE as AbstractDiscreteSDE,
    AbstractSDE as AbstractSDE,
    AbstractVPSDE as AbstractVPSDE,
    CosineVPSDE as CosineVPSDE,
    SubVPSDE as SubVPSDE,
)


__version__ = importlib.metadata.version("scoresde")
