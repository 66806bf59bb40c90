"""The network registry: names, builders, the hyper-parameters a run directory
records, and the ones the command line sets."""

from .._registry import Param, Registry, int_tuple
from ._base import AbstractScoreNet
from ._mlp import MLP
from ._unet import UNet


NETS: Registry[AbstractScoreNet] = Registry("network")
NETS.register(
    "mlp",
    MLP,
    "residual MLP for vectors (d,)",
    (
        Param("width", 128, "MLP width", int),
        Param("depth", 3, "MLP residual blocks", int),
    ),
)
NETS.register(
    "unet",
    UNet,
    "U-Net for images (C, H, W)",
    (
        Param(
            "channels",
            None,
            "UNet channels per resolution (default 32,64; 16,32 for images up to 8x8)",
            int_tuple,
        ),
    ),
)

#: The hyper-parameters of each network that `config.json` records (besides
#: `data_shape`); rebuilding with them gives the same structure.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "mlp": ("width", "depth", "embedding_dim", "num_classes", "output_norm"),
    "unet": (
        "channels",
        "num_res_blocks",
        "attention_levels",
        "num_heads",
        "embedding_dim",
        "num_classes",
    ),
}

#: What a field missing from an older `config.json` meant: the value it had
#: before the field existed (the MLP had a LayerNorm before its output).
LEGACY_DEFAULTS: dict[str, dict[str, object]] = {"mlp": {"output_norm": True}}
