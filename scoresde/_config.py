"""Plain-dict (JSON) descriptions of SDEs, networks and score models, and building
them from names: what run directories and the command line use."""

from typing import Any

import jax
import numpy as np

from ._custom_types import KeyArray
from ._model import ScoreModel
from ._sde import DDPM, NCSN, VESDE, VPSDE, AbstractSDE, CosineVPSDE, SubVPSDE
from .nets import MLP, AbstractScoreNet, UNet


#: SDE names and classes; the scalar fields listed are their parameters.
_SDES: dict[str, tuple[type, tuple[str, ...]]] = {
    "vp": (VPSDE, ("beta_min", "beta_max")),
    "subvp": (SubVPSDE, ("beta_min", "beta_max")),
    "ve": (VESDE, ("sigma_min", "sigma_max")),
    "cosine": (CosineVPSDE, ("s", "t_max")),
}
SDE_NAMES = ("vp", "subvp", "ve", "cosine", "ddpm", "ncsn")

_NETS: dict[str, tuple[type, tuple[str, ...]]] = {
    "mlp": (MLP, ("width", "depth", "embedding_dim", "num_classes")),
    "unet": (
        UNet,
        (
            "channels",
            "num_res_blocks",
            "attention_levels",
            "num_heads",
            "embedding_dim",
            "num_classes",
        ),
    ),
}
NET_NAMES = tuple(_NETS)


def _unknown(what: str, name: Any, known: tuple[str, ...]) -> ValueError:
    return ValueError(f"Unknown {what} {name!r}; known: {', '.join(known)}.")


def make_sde(name: str, **kwargs: Any) -> AbstractSDE:
    """Build an SDE from its name and keyword arguments.

    | name | builds | keyword arguments |
    |---|---|---|
    | `"vp"` | [`scoresde.VPSDE`][] | `beta_min`, `beta_max` |
    | `"subvp"` | [`scoresde.SubVPSDE`][] | `beta_min`, `beta_max` |
    | `"ve"` | [`scoresde.VESDE`][] | `sigma_min`, `sigma_max` |
    | `"cosine"` | [`scoresde.CosineVPSDE`][] | `s`, `t_max` |
    | `"ddpm"` | [`scoresde.DDPM`][] | `betas`, or `schedule` (`"linear"` default, `"cosine"`) with that constructor's arguments (`num_steps`, `beta_start`, `beta_end` / `s`, `max_beta`) |
    | `"ncsn"` | [`scoresde.NCSN`][] | `sigmas`, or `sigma_min`, `sigma_max`, `num_steps` ([`scoresde.NCSN.geometric`][]) |

    **Raises:** `ValueError` for an unknown name (listing the known ones);
    the SDE's own errors for bad parameters.
    """
    if name in _SDES:
        cls, _ = _SDES[name]
        return cls(**kwargs)
    if name == "ddpm":
        if "betas" in kwargs:
            return DDPM(**kwargs)
        schedule = kwargs.pop("schedule", "linear")
        if schedule == "linear":
            return DDPM.linear(**kwargs)
        if schedule == "cosine":
            return DDPM.cosine(**kwargs)
        raise ValueError(
            f"`schedule` for 'ddpm' must be 'linear' or 'cosine', got {schedule!r}."
        )
    if name == "ncsn":
        if "sigmas" in kwargs:
            return NCSN(**kwargs)
        return NCSN.geometric(**kwargs)
    raise _unknown("SDE", name, SDE_NAMES)


def sde_to_config(sde: AbstractSDE) -> dict[str, Any]:
    """A JSON-ready dict `{"kind": name, **parameters}` that
    [`scoresde.sde_from_config`][] turns back into an equal SDE."""
    for name, (cls, fields) in _SDES.items():
        if type(sde) is cls:
            return {"kind": name, **{f: float(getattr(sde, f)) for f in fields}}
    if isinstance(sde, DDPM):
        return {"kind": "ddpm", "betas": np.asarray(sde.betas, np.float64).tolist()}
    if isinstance(sde, NCSN):
        return {"kind": "ncsn", "sigmas": np.asarray(sde.sigmas, np.float64).tolist()}
    raise TypeError(
        f"Cannot describe an SDE of type {type(sde).__name__}; known kinds: "
        f"{', '.join(SDE_NAMES)}."
    )


def sde_from_config(config: dict[str, Any]) -> AbstractSDE:
    """The SDE described by `config` (as written by [`scoresde.sde_to_config`][])."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"An SDE config must be a dict with a 'kind', got {config!r}.")
    kwargs = {k: v for k, v in config.items() if k != "kind"}
    return make_sde(config["kind"], **kwargs)


def make_net(
    name: str, data_shape: tuple[int, ...], *, key: KeyArray, **kwargs: Any
) -> AbstractScoreNet:
    """Build a network from its name (`"mlp"` → [`scoresde.nets.MLP`][], `"unet"` →
    [`scoresde.nets.UNet`][]), the data shape and that class's keyword
    arguments."""
    if name not in _NETS:
        raise _unknown("network", name, NET_NAMES)
    cls, _ = _NETS[name]
    return cls(tuple(data_shape), key=key, **kwargs)


def net_to_config(net: AbstractScoreNet) -> dict[str, Any]:
    """A JSON-ready dict `{"kind", "data_shape", **hyper-parameters}` from which
    [`scoresde.net_from_config`][] rebuilds a network of the same structure
    (fresh weights: load the trained ones with `eqx.tree_deserialise_leaves`)."""
    for name, (cls, fields) in _NETS.items():
        if type(net) is cls:
            out: dict[str, Any] = {"kind": name, "data_shape": list(net.data_shape)}
            for f in fields:
                value = getattr(net, f)
                out[f] = list(value) if isinstance(value, tuple) else value
            return out
    raise TypeError(
        f"Cannot describe a network of type {type(net).__name__}; known kinds: "
        f"{', '.join(NET_NAMES)}."
    )


def net_from_config(
    config: dict[str, Any], *, key: KeyArray | None = None
) -> AbstractScoreNet:
    """The network described by `config`, freshly initialised with `key`
    (default `jax.random.key(0)`: for a skeleton whose weights you will load)."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(
            f"A network config must be a dict with a 'kind', got {config!r}."
        )
    kwargs = {k: v for k, v in config.items() if k not in ("kind", "data_shape")}
    for k, v in kwargs.items():
        if isinstance(v, list):
            kwargs[k] = tuple(v)
    if key is None:
        key = jax.random.key(0)
    return make_net(config["kind"], tuple(config["data_shape"]), key=key, **kwargs)


def model_to_config(model: ScoreModel) -> dict[str, Any]:
    """`{"net": ..., "sde": ..., "parameterization": ..., "data_std": ...}` for a
    [`scoresde.ScoreModel`][]."""
    if not isinstance(model, ScoreModel):
        raise TypeError(f"`model` must be a ScoreModel, got {type(model).__name__}.")
    return {
        "net": net_to_config(model.net),
        "sde": sde_to_config(model.sde),
        "parameterization": model.parameterization,
        "data_std": float(model.data_std),
    }


def model_from_config(
    config: dict[str, Any], *, key: KeyArray | None = None
) -> ScoreModel:
    """The [`scoresde.ScoreModel`][] skeleton described by `config` (see
    [`scoresde.model_to_config`][]), with freshly initialised weights."""
    for field in ("net", "sde", "parameterization", "data_std"):
        if not isinstance(config, dict) or field not in config:
            raise ValueError(f"A model config needs the field {field!r}.")
    return ScoreModel(
        net_from_config(config["net"], key=key),
        sde_from_config(config["sde"]),
        parameterization=config["parameterization"],
        data_std=float(config["data_std"]),
    )
