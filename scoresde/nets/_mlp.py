"""A residual MLP for vector data."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._validation import check_bool, check_int, check_shape
from ._base import AbstractScoreNet
from ._embedding import LabelEmbedding, sinusoidal_embedding


class _ResidualBlock(eqx.Module):
    norm: eqx.nn.LayerNorm
    linear1: eqx.nn.Linear
    time_proj: eqx.nn.Linear
    linear2: eqx.nn.Linear

    def __init__(self, width: int, emb_dim: int, *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm = eqx.nn.LayerNorm(width)
        self.linear1 = eqx.nn.Linear(width, width, key=k1)
        self.time_proj = eqx.nn.Linear(emb_dim, width, key=k2)
        self.linear2 = eqx.nn.Linear(width, width, key=k3)

    def __call__(self, h, emb):
        z = self.linear1(jax.nn.silu(self.norm(h))) + self.time_proj(emb)
        return h + self.linear2(jax.nn.silu(z))


class MLP(AbstractScoreNet):
    r"""A residual MLP for vector data (the toy 1-D / 2-D distributions).

    The time feature goes through sinusoidal features and a small MLP to an
    embedding $e$ (plus a label embedding when `num_classes` is set); the input
    is lifted to `width` and passed through `depth` pre-norm residual blocks
    $h \leftarrow h + W_2\,\mathrm{SiLU}(W_1\,\mathrm{SiLU}(\mathrm{LN}(h)) + P e)$;
    a final SiLU and linear map return to the data's shape.

    By default there is no LayerNorm before the output: it would bound the
    output for every input, so far from the data (where training saw almost
    no samples) the denoiser of a [`scoresde.ScoreModel`][] would fall back on
    its skip term $c_\text{skip}(t)\,y$, the posterior mean of a Gaussian with
    the data's overall std, and pull tail samples in far more weakly than
    the data's narrow modes do. Without it the output continues linearly past
    the data, with the slope it learned at the data's edge. See "Outliers from
    trained models" in the Sampling tutorial for the measurement.

    Inputs of any shape are flattened, so `data_shape` may be `(d,)` or e.g.
    `(1, 8, 8)` (though [`scoresde.nets.UNet`][] suits images better).

    **Arguments:**

    - `data_shape`: the shape of one sample, e.g. `(2,)`.
    - `width`: hidden width (default 128).
    - `depth`: number of residual blocks (default 3).
    - `embedding_dim`: width of the time (and label) embedding (default 64).
    - `num_classes`: number of classes for class conditioning, or `None`. With
      $K$ classes the labels are $0..K-1$ and $K$ is the "null" label (also used
      for `label=None`).
    - `output_norm`: put a LayerNorm before the output layer (default `False`;
      `True` is the architecture of scoresde's first release, with which runs
      whose `config.json` does not name `output_norm` were trained, and which
      `scoresde.load` rebuilds for them).
    - `key`: a PRNG key for the initialisation.

    The defaults train a good model of the 1-D / 2-D toy data in a minute or two
    on a laptop CPU.

    !!! example

        ```python
        import jax
        import scoresde as ss

        net = ss.nets.MLP((2,), key=jax.random.key(0))
        out = net(0.1, jax.numpy.zeros(2))      # shape (2,)
        ```
    """

    data_shape: tuple[int, ...] = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    embedding_dim: int = eqx.field(static=True)
    num_classes: int | None = eqx.field(static=True)
    output_norm: bool = eqx.field(static=True)
    time_mlp: eqx.nn.MLP
    label_embedding: LabelEmbedding | None
    input_layer: eqx.nn.Linear
    blocks: tuple[_ResidualBlock, ...]
    final_norm: eqx.nn.LayerNorm | None
    output_layer: eqx.nn.Linear

    def __init__(
        self,
        data_shape: tuple[int, ...],
        *,
        width: int = 128,
        depth: int = 3,
        embedding_dim: int = 64,
        num_classes: int | None = None,
        output_norm: bool = False,
        key: PRNGKeyArray,
    ):
        self.data_shape = check_shape("data_shape", data_shape)
        self.width = check_int("width", width, minimum=1)
        self.depth = check_int("depth", depth, minimum=0)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, minimum=2)
        if num_classes is not None:
            num_classes = check_int("num_classes", num_classes, minimum=1)
        self.num_classes = num_classes
        self.output_norm = check_bool("output_norm", output_norm)
        size = math.prod(self.data_shape)
        kt, kl, ki, kb, ko = jax.random.split(key, 5)
        self.time_mlp = eqx.nn.MLP(
            embedding_dim,
            embedding_dim,
            embedding_dim,
            depth=1,
            activation=jax.nn.silu,
            key=kt,
        )
        self.label_embedding = (
            None
            if num_classes is None
            else LabelEmbedding(num_classes, embedding_dim, key=kl)
        )
        self.input_layer = eqx.nn.Linear(size, width, key=ki)
        self.blocks = tuple(
            _ResidualBlock(width, embedding_dim, key=k)
            for k in jax.random.split(kb, depth)
        )
        self.final_norm = eqx.nn.LayerNorm(width) if output_norm else None
        out = eqx.nn.Linear(width, size, key=ko)
        # A small output layer: the network starts near F = 0.
        self.output_layer = eqx.tree_at(
            lambda layer: layer.weight, out, out.weight * 0.1
        )

    def __call__(
        self,
        time_feature: Float[ArrayLike, ""],
        y: Float[Array, "..."],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "..."]:
        emb = self.time_mlp(sinusoidal_embedding(time_feature, self.embedding_dim))
        if self.label_embedding is not None:
            emb = emb + self.label_embedding(label)
        h = self.input_layer(jnp.reshape(y, (-1,)))
        for block in self.blocks:
            h = block(h, emb)
        if self.final_norm is not None:
            h = self.final_norm(h)
        out = self.output_layer(jax.nn.silu(h))
        return jnp.reshape(out, y.shape)
