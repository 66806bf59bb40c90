"""The dataset interface: a data shape and a sampler."""

import abc

import equinox as eqx
from jaxtyping import Array, Float, Int

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


class AbstractLabelledDataset(AbstractDataset):
    """A dataset whose samples carry integer class labels in `0..num_classes - 1`
    (digits' digit, a mixture's component): what a class-conditional model trains
    on. Subclasses implement `num_classes` and `sample_with_labels`; `sample`
    draws the same way and drops the labels."""

    @property
    @abc.abstractmethod
    def num_classes(self) -> int:
        """The number of classes; labels lie in `0..num_classes - 1`."""

    @abc.abstractmethod
    def sample_with_labels(
        self, key: KeyArray, n: int
    ) -> tuple[Float[Array, "..."], Int[Array, " n"]]:
        """Draw `n` samples and their labels: shapes `(n, *self.shape)` and `(n,)`."""

    def sample(self, key: KeyArray, n: int) -> Float[Array, "..."]:
        """Draw `n` samples, shape `(n, *self.shape)` (the labels are dropped)."""
        return self.sample_with_labels(key, n)[0]
