"""scikit-learn's bundled 8x8 handwritten digits (no download), with a fixed
train/test split."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .._custom_types import KeyArray, default_float
from .._validation import check_int
from ._base import AbstractLabelledDataset


#: The splits of [`scoresde.datasets.Digits`][]: `"all"` (the 1,797 images),
#: `"train"` (1,442) and `"test"` (355).
DIGITS_SPLITS = ("all", "train", "test")

#: Every `TEST_EVERY`-th image of each class (in scikit-learn's order) is a test
#: image.
TEST_EVERY = 5


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    raw = load_digits()
    pixels = np.asarray(raw.images, dtype=np.int64)[:, None, :, :]
    return pixels, np.asarray(raw.target, dtype=np.int64)


def digits_test_mask(labels: ArrayLike) -> np.ndarray:
    """The test membership of each image of the digits split: with the images of
    class $c$ numbered $0, 1, 2, \\dots$ in scikit-learn's order, image number $j$ is
    a test image iff $j \\bmod 5 = 4$. Returns a boolean NumPy array like `labels`."""
    lab = np.asarray(labels)
    mask = np.zeros(lab.shape, bool)
    for c in np.unique(lab):
        idx = np.flatnonzero(lab == c)
        mask[idx[TEST_EVERY - 1 :: TEST_EVERY]] = True
    return mask


class Digits(AbstractLabelledDataset):
    r"""The 1,797 8x8 grey-scale digits bundled with scikit-learn
    (`sklearn.datasets.load_digits`, read from disk, never downloaded), as images
    of shape `(1, 8, 8)`, with their labels $0..9$.

    The raw pixels are integers $k \in \{0, \dots, 16\}$ (`num_levels = 17`);
    they are scaled to $[-1, 1]$ by $y = 2k/16 - 1$. Bits per dimension must
    account for that scaling: pass `pixels` and `num_levels=17` to
    [`scoresde.bits_per_dim`][].

    **The split.** `split="train"` and `split="test"` are a fixed, disjoint,
    stratified split that depends on no random state: number the images of each
    class $0, 1, 2, \dots$ in scikit-learn's order; image number $j$ of its class
    is a *test* image iff $j \bmod 5 = 4$. That puts 355 images (34 to 36 of
    each class, 20%) in the test split and the other 1,442 in the train split.
    Train models and the quality classifier
    ([`scoresde.metrics.digits_classifier`][]) on `"train"`; report bits/dim and
    sample quality on `"test"`. `split="all"` (the default) is all 1,797 images,
    as before the split existed.

    **Arguments:**

    - `split`: `"all"` (default), `"train"` or `"test"`.

    **Attributes:** `images` `(n, 1, 8, 8)` scaled to $[-1, 1]$, `labels`
    `(n,)` in $0..9$, `pixels` (property) the raw integer pixels `(n, 1, 8, 8)`,
    `num_levels` = 17, `split`.
    """

    images: Float[Array, "n 1 8 8"]
    labels: Int[Array, " n"]
    num_levels: int = eqx.field(static=True)
    split: str = eqx.field(static=True)

    def __init__(self, split: str = "all"):
        if split not in DIGITS_SPLITS:
            raise ValueError(
                f"`split` must be one of {', '.join(map(repr, DIGITS_SPLITS))}, "
                f"got {split!r}."
            )
        pixels, labels = _load()
        if split != "all":
            test = digits_test_mask(labels)
            keep = test if split == "test" else ~test
            pixels, labels = pixels[keep], labels[keep]
        self.images = jnp.asarray(
            self.pixel_to_data(pixels.astype(np.float64)), default_float()
        )
        self.labels = jnp.asarray(labels, jnp.int32)
        self.num_levels = 17
        self.split = split

    @staticmethod
    def pixel_to_data(pixels: ArrayLike) -> Array:
        r"""Map raw pixel values $k \in [0, 16]$ to data $2k/16 - 1 \in [-1, 1]$."""
        return 2.0 * jnp.asarray(pixels) / 16.0 - 1.0

    @staticmethod
    def data_to_pixel(data: ArrayLike) -> Array:
        r"""The inverse of `pixel_to_data`, rounded and clipped to the levels:
        $\mathrm{clip}(\mathrm{round}(8(y + 1)), 0, 16)$ (e.g. for samples)."""
        return jnp.clip(jnp.round(8.0 * (jnp.asarray(data) + 1.0)), 0, 16)

    @property
    def pixels(self) -> Float[Array, "n 1 8 8"]:
        """The raw pixels $k \\in \\{0, \\dots, 16\\}$ of `images` (as floats)."""
        return self.data_to_pixel(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 8, 8)

    @property
    def num_classes(self) -> int:
        return 10

    def sample_with_labels(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "n 1 8 8"], Int[Array, " n"]]:
        """Draw `n` (image, label) pairs of this split uniformly with replacement."""
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.images.shape[0])
        return self.images[idx], self.labels[idx]
