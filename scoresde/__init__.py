"""scoresde: continuous-time score-based generative modelling in JAX."""

import importlib.metadata

from . import (
    datasets as datasets,
    metrics as metrics,
    nets as nets,
    plotting as plotting,
)
from ._bits_per_dim import bits_per_dim as bits_per_dim
from ._config import (
    make_net as make_net,
    make_sde as make_sde,
    model_from_config as model_from_config,
    model_to_config as model_to_config,
    net_from_config as net_from_config,
    net_to_config as net_to_config,
    sde_from_config as sde_from_config,
    sde_to_config as sde_to_config,
)
from ._divergence import (
    AbstractDivergence as AbstractDivergence,
    AutoDivergence as AutoDivergence,
    ExactDivergence as ExactDivergence,
    Hutchinson as Hutchinson,
)
from ._exact import ExactScore as ExactScore, exact_score as exact_score
from ._guidance import ClassifierFreeGuidance as ClassifierFreeGuidance
from ._impute import impute as impute
from ._likelihood import log_likelihood as log_likelihood
from ._load import Run as Run, load as load
from ._loss import dsm_loss as dsm_loss
from ._model import ScoreModel as ScoreModel
from ._ode import ODESolve as ODESolve
from ._rundir import (
    CheckpointError as CheckpointError,
    RunDirectoryInUseError as RunDirectoryInUseError,
)
from ._sample import sample as sample
from ._samplers import (
    DDIM as DDIM,
    AbstractChainSampler as AbstractChainSampler,
    AbstractContinuousSampler as AbstractContinuousSampler,
    AbstractFixedStepSampler as AbstractFixedStepSampler,
    AbstractPredictor as AbstractPredictor,
    AbstractSampler as AbstractSampler,
    AbstractTimeGrid as AbstractTimeGrid,
    Ancestral as Ancestral,
    AnnealedLangevin as AnnealedLangevin,
    DPMSolver as DPMSolver,
    EDMHeun as EDMHeun,
    EulerMaruyamaPredictor as EulerMaruyamaPredictor,
    LangevinCorrector as LangevinCorrector,
    LogSNRTime as LogSNRTime,
    PredictorCorrector as PredictorCorrector,
    ProbabilityFlowODE as ProbabilityFlowODE,
    ReverseDiffusionPredictor as ReverseDiffusionPredictor,
    ReverseSDE as ReverseSDE,
    RhoTime as RhoTime,
    UniformTime as UniformTime,
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
from ._time_sampling import (
    AbstractTimeSampling as AbstractTimeSampling,
    AntitheticTimes as AntitheticTimes,
    IIDTimes as IIDTimes,
    StratifiedTimes as StratifiedTimes,
)
from ._train import (
    DEFAULT_CHECKPOINT_SECONDS as DEFAULT_CHECKPOINT_SECONDS,
    TrainResult as TrainResult,
    default_optimizer as default_optimizer,
    train as train,
)
from ._train_loop import NonFiniteLossError as NonFiniteLossError
from ._weighting import (
    AbstractUniformTimeWeighting as AbstractUniformTimeWeighting,
    AbstractWeighting as AbstractWeighting,
    FunctionWeighting as FunctionWeighting,
    LikelihoodWeighting as LikelihoodWeighting,
    ScoreWeighting as ScoreWeighting,
    VWeighting as VWeighting,
)


__version__ = importlib.metadata.version("scoresde")
