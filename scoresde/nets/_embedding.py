"""Time and label embeddings shared by the networks."""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._validation import check_int


def sinusoidal_embedding(
    time_feature: Float[ArrayLike, ""], dim: int, *, max_period: float = 1e4
) -> Float[Array, " dim"]:
    r"""The sinusoidal features of Vaswani et al. (2017) used for the noise level
    in DDPM (Ho et al. 2020): $[\cos(\omega_k c), \sin(\omega_k c)]_{k < \text{dim}/2}$
    with frequencies $\omega_k$ geometric from 1 to `max_period`. The feature
    $c$ is scaled by 100 first, so that the $c_\text{noise} = \tfrac14\log\sigma$ of
    [`scoresde.ScoreModel`][] (about $-3..3$) is resolved finely.

    Deterministic (no parameters): nothing in it is trained or decayed.
    """
    check_int("dim", dim, minimum=2)
    half = dim // 2
    dtype = jnp.result_type(float)
    steps = jnp.arange(half, dtype=dtype) / max(half - 1, 1)
    freqs = jnp.exp(-math.log(max_period) * steps)
    arg = 100.0 * jnp.asarray(time_feature) * freqs
    emb = jnp.concatenate([jnp.cos(arg), jnp.sin(arg)])
    if dim % 2:
        emb = jnp.concatenate([emb, jnp.zeros(1, emb.dtype)])
    return emb


class LabelEmbedding(eqx.Module):
    """A learned embedding of class labels $0..K-1$ plus a "null" label $K$
    (used for `label=None`, and for label dropout in classifier-free guidance,
    Ho & Salimans 2022)."""

    num_classes: int = eqx.field(static=True)
    embedding: eqx.nn.Embedding

    def __init__(self, num_classes: int, dim: int, *, key: PRNGKeyArray):
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        check_int("dim", dim, minimum=1)
        self.embedding = eqx.nn.Embedding(num_classes + 1, dim, key=key)

    def __call__(self, label: Int[ArrayLike, ""] | None) -> Float[Array, " dim"]:
        if label is None:
            index = jnp.asarray(self.num_classes)
        else:
            index = jnp.clip(jnp.asarray(label), 0, self.num_classes)
        return self.embedding(index)
