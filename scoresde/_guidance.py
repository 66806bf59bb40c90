r"""Classifier-free guidance (Ho & Salimans 2022), and the checks on the labels of a
class-conditional score function."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._custom_types import RealScalarLike, default_float
from ._exact import ExactScore
from ._model import ScoreModel
from ._validation import check_real_scalar, is_concrete


class ClassifierFreeGuidance(eqx.Module):
    r"""Classifier-free guidance (Ho & Salimans 2022, eq. 6) of a class-conditional
    score function $s(t, y, c)$ with weight $w \ge 0$:

    $$\tilde s(t, y, c) = (1 + w)\, s(t, y, c) - w\, s(t, y, \varnothing),$$

    where $\varnothing$ is the null label (`None`). In terms of densities this is
    the score of $p_t(y \mid c)^{1 + w} / p_t(y)^{w} \propto p_t(y \mid c)\,
    p_t(c \mid y)^{w}$: $w = 0$ is plain conditional sampling, and a larger $w$
    moves samples towards where the class is most certain (sharper, less diverse).
    Made by [`scoresde.sample`][] for `guidance=w`; use it directly to guide
    a score function elsewhere (e.g. in a likelihood). Each call costs two
    evaluations of `score_fn` (one when `label` is `None`).

    **Arguments:**

    - `score_fn`: a class-conditional score function `(t, y, label) -> score`
      ([`scoresde.ScoreModel`][] with `num_classes`, or [`scoresde.exact_score`][]),
      which takes `label=None` for the null label.
    - `guidance`: the weight $w \ge 0$.

    ??? cite "Reference"

        ```bibtex
        @article{ho2022classifierfree,
            title={Classifier-Free Diffusion Guidance},
            author={Ho, Jonathan and Salimans, Tim},
            journal={arXiv preprint arXiv:2207.12598},
            year={2022}
        }
        ```
    """

    score_fn: Callable[..., Array]
    guidance: float | Array

    def __check_init__(self):
        if not callable(self.score_fn):
            raise TypeError(
                "`score_fn` must be a callable (t, y, label) -> score, got "
                f"{self.score_fn!r}."
            )
        check_guidance(self.guidance)

    @property
    def num_classes(self) -> int | None:
        """The number of classes of the guided score function, where it says."""
        return num_classes_of(self.score_fn)

    def __call__(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "*shape"]:
        y = jnp.asarray(y)
        unconditional = self.score_fn(t, y, None)
        if label is None:
            return unconditional
        conditional = self.score_fn(t, y, label)
        w = jnp.asarray(self.guidance, y.dtype)
        return ((1 + w) * conditional - w * unconditional).astype(y.dtype)


class _Unknown:
    """The number of classes of a score function that does not say."""


UNKNOWN = _Unknown()


def num_classes_of(score_fn: Any) -> int | None | _Unknown:
    """The number of classes of a score function: an int for a class-conditional
    one, `None` for one that takes no label, `UNKNOWN` for a plain callable."""
    if isinstance(score_fn, ExactScore):
        return score_fn.num_classes
    if isinstance(score_fn, ClassifierFreeGuidance):
        return num_classes_of(score_fn.score_fn)
    if isinstance(score_fn, ScoreModel):
        return score_fn.net.num_classes
    owner = getattr(score_fn, "__self__", None)  # e.g. `run.score` of a loaded run
    if isinstance(getattr(owner, "model", None), ScoreModel):
        return owner.model.net.num_classes
    return UNKNOWN


def check_guidance(guidance: Any) -> Any:
    """`guidance` must be a finite real number >= 0."""
    check_real_scalar("guidance", guidance)
    if not is_concrete(guidance):
        return guidance
    if float(guidance) < 0:
        raise ValueError(
            f"`guidance` must be >= 0 (0 = plain conditional sampling), got "
            f"{float(guidance)!r}."
        )
    return float(guidance)


def check_labels(
    score_fn: Any, labels: Any, num_samples: int, shape: tuple[int, ...]
) -> Int[Array, " n"]:
    """Validate `labels` for `score_fn` and `num_samples` samples: one integer or
    integers of shape `(num_samples,)`, in `0..num_classes - 1` where the score
    function says its `num_classes`; the score function must take a label. Returns
    the labels as an int32 array of shape `(num_samples,)`."""
    num_classes = num_classes_of(score_fn)
    if num_classes is None:
        raise ValueError(
            "`labels` were given, but the score function is unconditional (its "
            "network has no `num_classes`); train with a class-conditional network "
            "(`num_classes=...`) to sample by class."
        )
    if isinstance(labels, bool) or isinstance(labels, np.bool_):
        raise TypeError(f"`labels` must be an integer or integers, got {labels!r}.")
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"`labels` must be an integer or an integer array of shape "
            f"({num_samples},), got dtype {arr.dtype}."
        )
    if arr.ndim == 0:
        arr = np.full((num_samples,), arr)
    if arr.shape != (num_samples,):
        raise ValueError(
            f"`labels` must be one integer or one per sample, shape ({num_samples},), "
            f"got shape {arr.shape}."
        )
    if isinstance(num_classes, int):
        bad = (arr < 0) | (arr >= num_classes)
        if bad.any():
            raise ValueError(
                f"`labels` must lie in 0..{num_classes - 1} (the score function has "
                f"{num_classes} classes), got {int(arr[bad][0])}."
            )
    else:
        if (arr < 0).any():
            raise ValueError(f"`labels` must be >= 0, got {int(arr.min())}.")
        dtype = default_float()
        try:
            jax.eval_shape(
                score_fn,
                jax.ShapeDtypeStruct((), dtype),
                jax.ShapeDtypeStruct(shape, dtype),
                jax.ShapeDtypeStruct((), jnp.int32),
            )
        except TypeError as e:
            raise ValueError(
                "`labels` were given, but the score function does not take a label "
                f"(calling it as score_fn(t, y, label) failed: {e})."
            ) from e
    return jnp.asarray(arr, jnp.int32)


def prepare_conditional(
    score_fn: Any, labels: Any, guidance: Any, num_samples: int, shape: tuple[int, ...]
) -> tuple[Any, Int[Array, " n"] | None]:
    """The `labels` and `guidance` arguments of `sample`, checked: returns the score
    function to sample with (wrapped in `ClassifierFreeGuidance` for `guidance > 0`)
    and the labels as int32 `(num_samples,)`, or `None`."""
    guidance = check_guidance(guidance)
    if labels is None:
        if guidance != 0:
            raise ValueError(
                f"`guidance` = {guidance!r} needs `labels`: guidance steers samples "
                "towards a class."
            )
        return score_fn, None
    labels = check_labels(score_fn, labels, num_samples, shape)
    if guidance > 0:
        score_fn = ClassifierFreeGuidance(
            score_fn, jnp.asarray(guidance, default_float())
        )
    return score_fn, labels
