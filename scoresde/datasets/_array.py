"""A dataset made of the user's own array."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import ArrayInput, KeyArray, default_float
from .._validation import check_int
from ._base import AbstractDataset


class ArrayDataset(AbstractDataset):
    """Your own data: an array of shape `(n, *shape)` whose rows are samples.
    `sample(key, n)` draws rows uniformly with replacement.

    **Arguments:**

    - `data`: a finite real array with at least 2 dimensions (`(n, d)` for
      vectors — reshape 1-D data to `(n, 1)` — or `(n, C, H, W)` for images).
    """

    data: Float[Array, "n ..."]

    def __init__(self, data: ArrayInput):
        arr = np.asarray(data)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(
            arr.dtype, np.complexfloating
        ):
            raise TypeError(
                f"`data` must be a real numeric array, got dtype {arr.dtype}."
            )
        if arr.ndim < 2 or arr.shape[0] == 0:
            hint = " For 1-D data reshape to (n, 1)." if arr.ndim == 1 else ""
            raise ValueError(
                "`data` must have shape (n, *sample_shape) with n >= 1 and at least "
                f"2 dimensions, got {arr.shape}.{hint}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("`data` must be finite; it contains NaN or inf.")
        self.data = jnp.asarray(arr, default_float())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n ..."]:
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.data.shape[0])
        return self.data[idx]
