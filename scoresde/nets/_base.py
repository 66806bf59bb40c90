"""The interface every score network follows."""

import abc

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float, Int


class AbstractScoreNet(eqx.Module):
    """A network $F_\\theta(c_\\text{noise}, x, \\text{label})$ that
    [`scoresde.ScoreModel`][] turns into a score.

    Called per sample: `net(time_feature, y, label=None)` takes a scalar time
    feature (the model passes $c_\\text{noise} = \\tfrac14\\log\\sigma$, see
    [`scoresde.ScoreModel`][]), ONE input `y` of shape `data_shape`, and an
    optional integer class label, and returns an array of `y`'s shape.

    Subclasses keep their constructor's hyper-parameters as fields, so that
    [`scoresde.net_to_config`][] can write them to JSON and rebuild the network.
    """

    data_shape: eqx.AbstractVar[tuple[int, ...]]
    num_classes: eqx.AbstractVar[int | None]

    @abc.abstractmethod
    def __call__(
        self,
        time_feature: Float[ArrayLike, ""],
        y: Float[Array, "..."],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "..."]:
        """Evaluate on one sample."""
