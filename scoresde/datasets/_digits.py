"""scikit-learn's bundled 8x8 handwritten digits (no download)."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._custom_types import KeyArray, default_float
from .._validation import check_int
from ._base import AbstractLabelledDataset


class Digits(AbstractLabelledDataset):
    r"""The 1,797 8x8 grey-scale digits bundled with scikit-learn
    (`sklearn.datasets.load_digits`, read from disk, never downloaded), as images
    of shape `(1, 8, 8)`.

    The raw pixels are integers $k \in \{0, \dots, 16\}$ (`num_levels = 17`);
    they are scaled to $[-1, 1]$ by $y = 2k/16 - 1$. Bits per dimension must
    account for that scaling (see `pixel_to_data`).

    **Attributes:** `images` `(1797, 1, 8, 8)` scaled to $[-1, 1]$, `labels`
    `(1797,)` in $0..9$.
    """

    images: Float[Array, "n 1 8 8"]
    labels: Int[Array, " n"]
    num_levels: int = 17

    def __init__(self):
        from sklearn.datasets import load_digits

        raw = load_digits()
        pixels = np.asarray(raw.images, dtype=np.float64)[:, None, :, :]
        self.images = jnp.asarray(self.pixel_to_data(pixels), default_float())
        self.labels = jnp.asarray(raw.target, jnp.int32)
        self.num_levels = 17

    @staticmethod
    def pixel_to_data(pixels: ArrayLike) -> Array:
        r"""Map raw pixel values $k \in [0, 16]$ to data $2k/16 - 1 \in [-1, 1]$."""
        return 2.0 * jnp.asarray(pixels) / 16.0 - 1.0

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 8, 8)

    @property
    def num_classes(self) -> int:
        return 10

    def sample_with_labels(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "n 1 8 8"], Int[Array, " n"]]:
        """Draw `n` (image, label) pairs uniformly with replacement."""
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.images.shape[0])
        return self.images[idx], self.labels[idx]
