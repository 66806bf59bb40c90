from .ancestral import Ancestral as Ancestral
from .annealed_langevin import AnnealedLangevin as AnnealedLangevin
from .base import (
    AbstractChainSampler as AbstractChainSampler,
    AbstractContinuousSampler as AbstractContinuousSampler,
    AbstractFixedStepSampler as AbstractFixedStepSampler,
    AbstractSampler as AbstractSampler,
)
from .ddim import DDIM as DDIM
from .dpm_solver import DPMSolver as DPMSolver
from .edm_heun import EDMHeun as EDMHeun
from .langevin import langevin as langevin
from .langevin_corrector import LangevinCorrector as LangevinCorrector
from .predictor_corrector import PredictorCorrector as PredictorCorrector
from .predictors import (
    AbstractPredictor as AbstractPredictor,
    EulerMaruyamaPredictor as EulerMaruyamaPredictor,
    ReverseDiffusionPredictor as ReverseDiffusionPredictor,
)
from .probability_flow import ProbabilityFlowODE as ProbabilityFlowODE
from .reverse_sde import ReverseSDE as ReverseSDE
from .time_grid import (
    AbstractTimeGrid as AbstractTimeGrid,
    LogSNRTime as LogSNRTime,
    RhoTime as RhoTime,
    UniformTime as UniformTime,
)
