"""Score networks: [`scoresde.nets.MLP`][] for vectors, [`scoresde.nets.UNet`][] for
images. Both are called per sample as `net(time_feature, y, label=None)` and return
an array of `y`'s shape; wrap one in [`scoresde.ScoreModel`][] to get a score."""

from ._base import AbstractScoreNet as AbstractScoreNet
from ._embedding import (
    LabelEmbedding as LabelEmbedding,
    sinusoidal_embedding as sinusoidal_embedding,
)
from ._mlp import MLP as MLP
from ._unet import UNet as UNet
