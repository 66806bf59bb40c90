"""Type aliases shared across scoresde (one place, as in Diffrax)."""

from collections.abc import Sequence

import jax
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real


#: A scalar time or scale: a Python number or a 0-d array.
RealScalarLike = float | int | Real[ArrayLike, ""]
#: Array-valued user input checked by the callee itself: arrays, scalars or
#: (nested) sequences of numbers such as `[0.3, 0.1, 0.6]`.
ArrayInput = ArrayLike | Sequence
#: A PRNG key as made by `jax.random.key` (typed) or `jax.random.PRNGKey` (raw).
KeyArray = jax.Array | np.ndarray

__all__ = [
    "default_float",
    "Array",
    "ArrayLike",
    "Float",
    "Int",
    "KeyArray",
    "Real",
    "RealScalarLike",
]


def default_float():
    """JAX's default float dtype: float32, or float64 where the user enabled x64."""
    import jax.numpy as jnp

    return jnp.result_type(float)
