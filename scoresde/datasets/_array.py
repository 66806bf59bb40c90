"""A dataset made of the user's own array."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._custom_types import ArrayInput, KeyArray, default_float
from .._validation import check_int
from ._base import AbstractDataset, AbstractLabelledDataset


def _check_data(data: ArrayInput) -> np.ndarray:
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(
        arr.dtype, np.complexfloating
    ):
        raise TypeError(f"`data` must be a real numeric array, got dtype {arr.dtype}.")
    if arr.ndim < 2 or arr.shape[0] == 0:
        hint = " For 1-D data reshape to (n, 1)." if arr.ndim == 1 else ""
        raise ValueError(
            "`data` must have shape (n, *sample_shape) with n >= 1 and at least "
            f"2 dimensions, got {arr.shape}.{hint}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("`data` must be finite; it contains NaN or inf.")
    return arr


class ArrayDataset(AbstractDataset):
    """Your own data: an array of shape `(n, *shape)` whose rows are samples.
    `sample(key, n)` draws rows uniformly with replacement.

    **Arguments:**

    - `data`: a finite real array with at least 2 dimensions (`(n, d)` for
      vectors — reshape 1-D data to `(n, 1)` — or `(n, C, H, W)` for images).
    """

    data: Float[Array, "n ..."]

    def __init__(self, data: ArrayInput):
        self.data = jnp.asarray(_check_data(data), default_float())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n ..."]:
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.data.shape[0])
        return self.data[idx]


class LabelledArrayDataset(AbstractLabelledDataset):
    """Your own labelled data: an array `(n, *shape)` and integer labels `(n,)` in
    `0..num_classes - 1`. `sample_with_labels(key, n)` draws rows (with their
    labels) uniformly with replacement.

    **Arguments:**

    - `data`: as for [`scoresde.datasets.ArrayDataset`][].
    - `labels`: integers of shape `(n,)`.
    - `num_classes`: the number of classes (default `labels.max() + 1`).
    """

    data: Float[Array, "n ..."]
    labels: Int[Array, " n"]
    _num_classes: int = eqx.field(static=True)

    def __init__(
        self, data: ArrayInput, labels: ArrayLike, num_classes: int | None = None
    ):
        arr = _check_data(data)
        lab = np.asarray(labels)
        n = arr.shape[0]
        if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(
                f"`labels` must be integers of shape ({n},), got {lab.dtype} "
                f"{lab.shape}."
            )
        if num_classes is None:
            num_classes = int(lab.max()) + 1
        num_classes = check_int("num_classes", num_classes, minimum=1)
        if lab.min() < 0 or lab.max() >= num_classes:
            raise ValueError(
                f"`labels` must lie in 0..{num_classes - 1}, got "
                f"{lab.min()}..{lab.max()}."
            )
        self.data = jnp.asarray(arr, default_float())
        self.labels = jnp.asarray(lab, jnp.int32)
        self._num_classes = num_classes

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def sample_with_labels(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "n ..."], Int[Array, " n"]]:
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.data.shape[0])
        return self.data[idx], self.labels[idx]
