"""The 2-D toy distributions of the FFJORD / score-SDE literature, sampled in JAX."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import KeyArray
from .._validation import check_int, check_positive
from ._base import AbstractDataset


class TwoMoons(AbstractDataset):
    """Two interleaved half circles (scikit-learn's `make_moons`), scaled by 2 and
    shifted by (-1, -0.2) so the data sit around the origin, plus isotropic
    Gaussian noise of std `noise` (before scaling)."""

    noise: float = 0.1

    def __check_init__(self):
        check_positive("noise", self.noise)

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n 2"]:
        n = check_int("n", n, minimum=1)
        key_u, key_side, key_z = jax.random.split(key, 3)
        angle = math.pi * jax.random.uniform(key_u, (n,))
        upper = jax.random.bernoulli(key_side, 0.5, (n,))
        x = jnp.where(upper, jnp.cos(angle), 1.0 - jnp.cos(angle))
        y = jnp.where(upper, jnp.sin(angle), 0.5 - jnp.sin(angle))
        pts = jnp.stack([x, y], axis=1)
        pts = pts + self.noise * jax.random.normal(key_z, (n, 2))
        return 2.0 * pts + jnp.array([[-1.0, -0.2]])


class SwissRoll(AbstractDataset):
    """The 2-D Swiss roll: $t \\sim 1.5\\pi(1 + 2U)$, $(t\\cos t, t\\sin t)$, plus
    Gaussian noise of std `noise`, all divided by 5 (as in FFJORD)."""

    noise: float = 1.0

    def __check_init__(self):
        check_positive("noise", self.noise)

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n 2"]:
        n = check_int("n", n, minimum=1)
        key_u, key_z = jax.random.split(key)
        t = 1.5 * math.pi * (1.0 + 2.0 * jax.random.uniform(key_u, (n,)))
        pts = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=1)
        pts = pts + self.noise * jax.random.normal(key_z, (n, 2))
        return pts / 5.0


class Checkerboard(AbstractDataset):
    """Uniform on the black squares of a 4x4 checkerboard covering
    $[-4, 4]^2$ (as in FFJORD): a density with sharp edges and no smoothness."""

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n 2"]:
        n = check_int("n", n, minimum=1)
        key_x, key_y, key_row = jax.random.split(key, 3)
        x1 = 4.0 * jax.random.uniform(key_x, (n,)) - 2.0
        row = 2.0 * jax.random.bernoulli(key_row, 0.5, (n,)).astype(x1.dtype)
        x2 = jax.random.uniform(key_y, (n,)) - row + jnp.floor(x1) % 2
        return 2.0 * jnp.stack([x1, x2], axis=1)
