"""Plain-dict (JSON) descriptions of SDEs, networks and score models, and building
them from names: what run directories and the command line use."""

from typing import Any

import jax

from ._custom_types import KeyArray
from ._model import ScoreModel
from ._sde import AbstractSDE
from ._sde.registry import SDES, sde_to_config as sde_to_config
from .nets import AbstractScoreNet
from .nets._registry import CONFIG_FIELDS, LEGACY_DEFAULTS, NETS


#: The names `make_sde` and `scoresde train --sde` know (the SDE registry's).
SDE_NAMES = SDES.names
#: The names `make_net` and `scoresde train --net` know.
NET_NAMES = NETS.names


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

    The names come from one registry (`scoresde._sde.registry.SDES`), which the
    command line reads too.

    **Raises:** `ValueError` for an unknown name (listing the known ones);
    the SDE's own errors for bad parameters.
    """
    return SDES.build(name, **kwargs)


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
    return NETS.build(name, tuple(data_shape), key=key, **kwargs)


def net_to_config(net: AbstractScoreNet) -> dict[str, Any]:
    """A JSON-ready dict `{"kind", "data_shape", **hyper-parameters}` from which
    [`scoresde.net_from_config`][] rebuilds a network of the same structure
    (fresh weights: load the trained ones with `eqx.tree_deserialise_leaves`)."""
    for entry in NETS:
        if type(net) is entry.build:
            out: dict[str, Any] = {
                "kind": entry.name,
                "data_shape": list(net.data_shape),
            }
            for f in CONFIG_FIELDS[entry.name]:
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
    (default `jax.random.key(0)`: for a skeleton whose weights you will load).
    A hyper-parameter that an older config does not name takes the value it had
    before it existed (an MLP without `output_norm` is rebuilt with
    `output_norm=True`, the architecture it was trained with)."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(
            f"A network config must be a dict with a 'kind', got {config!r}."
        )
    kwargs = dict(LEGACY_DEFAULTS.get(config["kind"], {}))
    kwargs.update((k, v) for k, v in config.items() if k not in ("kind", "data_shape"))
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
