from .ancestral import Ancestral as Ancestral
from .annealed_langevin import AnnealedLangevin as AnnealedLangevin
from .base import AbstractSampler as AbstractSampler
from .langevin import langevin as langevin
from .predictor_corrector import (
    AbstractPredictor as AbstractPredictor,
    EulerMaruyamaPredictor as EulerMaruyamaPredictor,
    LangevinCorrector as LangevinCorrector,
    PredictorCorrector as PredictorCorrector,
    ReverseDiffusionPredictor as ReverseDiffusionPredictor,
)
from .probability_flow import ProbabilityFlowODE as ProbabilityFlowODE
from .reverse_sde import ReverseSDE as ReverseSDE
