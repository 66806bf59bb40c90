"""The dataset interface: a data shape and a sampler."""

import abc

import equinox as eqx
from jaxtyping import Array, Float

from .._custom_types import KeyArray


class AbstractDataset(eqx.Module):
    """A source of training data: `shape` is the shape of ONE sample and
    `sample(key, n)` draws `n` of them as an array of shape `(n, *shape)`."""

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. `(2,)` or `(1, 8, 8)`."""

    @abc.abstractmethod
    def sample(self, key: KeyArray, n: int) -> Float[Array, "..."]:
        """Draw `n` samples, shape `(n, *self.shape)`."""
