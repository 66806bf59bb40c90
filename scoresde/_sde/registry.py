"""The SDE registry: every SDE's name, builder and command-line parameters.

Adding an SDE means one new module in this package and one `SDES.register`
line here; `scoresde train --sde`, [`scoresde.make_sde`][], run directories'
`config.json` and the docs read this list.
"""

from typing import Any

import numpy as np

from .._registry import Param, Registry
from .base import AbstractSDE
from .cosine import CosineVPSDE
from .ddpm import DDPM
from .ncsn import NCSN
from .subvp import SubVPSDE
from .ve import VESDE
from .vp import VPSDE


def _ddpm(schedule: str = "linear", **kwargs: Any) -> DDPM:
    if "betas" in kwargs:
        return DDPM(**kwargs)
    if schedule == "linear":
        return DDPM.linear(**kwargs)
    if schedule == "cosine":
        return DDPM.cosine(**kwargs)
    raise ValueError(
        f"`schedule` for 'ddpm' must be 'linear' or 'cosine', got {schedule!r}."
    )


def _ncsn(**kwargs: Any) -> NCSN:
    return NCSN(**kwargs) if "sigmas" in kwargs else NCSN.geometric(**kwargs)


_BETA_MIN = Param("beta_min", 0.1, "VP / sub-VP beta_min")
_BETA_MAX = Param("beta_max", 20.0, "VP / sub-VP beta_max")
_LEVELS = "DDPM / NCSN number of levels N"

SDES: Registry[AbstractSDE] = Registry("SDE")
SDES.register(
    "vp", VPSDE, "variance preserving (beta linear in t)", (_BETA_MIN, _BETA_MAX)
)
SDES.register("subvp", SubVPSDE, "sub-variance preserving", (_BETA_MIN, _BETA_MAX))
SDES.register(
    "ve",
    VESDE,
    "variance exploding (sigma geometric in t)",
    (
        Param("sigma_min", 0.01, "VE / NCSN sigma_min"),
        Param("sigma_max", 50.0, "VE / NCSN sigma_max"),
    ),
)
SDES.register(
    "cosine",
    CosineVPSDE,
    "VP with the cosine schedule of Nichol & Dhariwal",
    (
        Param("s", 0.008, "cosine schedule offset s", cli_name="cosine_s"),
        Param(
            "t_max", 0.995, "cosine schedule end time t_max", cli_name="cosine_t_max"
        ),
    ),
)
SDES.register(
    "ddpm",
    _ddpm,
    "discrete VP (DDPM, linear betas)",
    (
        Param("num_steps", 1000, _LEVELS, int, cli_name="num_levels"),
        Param("beta_start", 1e-4, "DDPM beta_1"),
        Param("beta_end", 0.02, "DDPM beta_N"),
    ),
)
SDES.register(
    "ncsn",
    _ncsn,
    "discrete VE (NCSN, geometric sigmas)",
    (
        Param("sigma_min", 0.01, "VE / NCSN sigma_min"),
        Param("sigma_max", 1.0, "VE / NCSN sigma_max"),
        Param("num_steps", 100, _LEVELS, int, cli_name="num_levels"),
    ),
)


def sde_to_config(sde: AbstractSDE) -> dict[str, Any]:
    """A JSON-ready dict `{"kind": name, **parameters}` that
    [`scoresde.sde_from_config`][] turns back into an equal SDE."""
    if isinstance(sde, DDPM):
        return {"kind": "ddpm", "betas": np.asarray(sde.betas, np.float64).tolist()}
    if isinstance(sde, NCSN):
        return {"kind": "ncsn", "sigmas": np.asarray(sde.sigmas, np.float64).tolist()}
    for entry in SDES:
        if type(sde) is entry.build:
            return {
                "kind": entry.name,
                **{p.name: float(getattr(sde, p.name)) for p in entry.params},
            }
    raise TypeError(
        f"Cannot describe an SDE of type {type(sde).__name__}; known kinds: "
        f"{', '.join(SDES.names)}."
    )
