from .base import AbstractDiscreteSDE as AbstractDiscreteSDE, AbstractSDE as AbstractSDE
from .cosine import CosineVPSDE as CosineVPSDE
from .ddpm import DDPM as DDPM
from .ncsn import NCSN as NCSN
from .subvp import SubVPSDE as SubVPSDE
from .ve import VESDE as VESDE
from .vp import VPSDE as VPSDE
from .vp_base import AbstractVPSDE as AbstractVPSDE
