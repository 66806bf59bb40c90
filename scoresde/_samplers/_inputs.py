"""Boundary checks shared by `scoresde.sample` and the probability-flow encoder."""

import collections
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from .._custom_types import default_float
from .._exact import ExactScore
from .._sde import AbstractSDE
from .._validation import check_in_interval


def check_sampling_inputs(
    sde: Any, score_fn: Any, shape: tuple[int, ...], t_eps: Any
) -> float:
    """Boundary checks shared by `sample` and the probability-flow encoder: the SDE,
    `t_eps`, and that `score_fn` maps one sample of `shape` to the same shape."""
    if not isinstance(sde, AbstractSDE):
        raise TypeError(
            f"`sde` must be a scoresde SDE (an AbstractSDE), got {type(sde).__name__}."
        )
    check_in_interval("t_eps", t_eps, 0.0, sde.T, low_open=True, high_open=True)
    if not callable(score_fn):
        raise TypeError(
            f"`score_fn` must be a callable (t, y) -> score, got {score_fn!r}."
        )
    if isinstance(score_fn, ExactScore) and score_fn.mixture.shape != shape:
        raise ValueError(
            f"`shape` {shape} disagrees with the score function, whose mixture has "
            f"samples of shape {score_fn.mixture.shape}."
        )
    dtype = default_float()
    try:
        out = _score_output_shape(score_fn, shape, dtype)
    except Exception as e:
        raise ValueError(
            f"`score_fn` fails on one sample of `shape` {shape} (and a scalar time): "
            f"{type(e).__name__}: {e}. Check that `shape` is the shape of ONE sample "
            "the score function was made for."
        ) from e
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != shape:
        got = out.shape if isinstance(out, jax.ShapeDtypeStruct) else out
        raise ValueError(
            f"`score_fn` must return a score of the sample's shape {shape}, got {got}."
        )
    return float(t_eps)


#: Score functions already checked: (structure, shape, dtype) -> output shape.
_CHECKED: collections.OrderedDict = collections.OrderedDict()
_CHECKED_SIZE = 32


def _score_output_shape(score_fn: Callable, shape: tuple[int, ...], dtype) -> Any:
    """`jax.eval_shape` of `score_fn` on a scalar time and one sample of `shape`,
    remembered for score functions of the same structure.

    Tracing the score function on every call of `sample` costs more than the
    check is worth: for a small network about 5 to 10 ms a call (JAX also builds
    the function's description from the `repr` of an Equinox module), which is
    15% of a 20-step sampler's wall time on 20,000 1-D samples. The result
    depends only on the pytree structure of `score_fn`, its arrays' shapes and
    dtypes and its other leaves (compared by value; functions by identity), as a
    `jit` cache does, so it is kept under that key (the last 32 kept)."""
    leaves, treedef = jax.tree_util.tree_flatten(score_fn)
    specs = tuple(
        (type(x), x.shape, x.dtype) if isinstance(x, (jax.Array, np.ndarray)) else x
        for x in leaves
    )
    key = (treedef, specs, shape, np.dtype(dtype))
    try:
        out = _CHECKED.get(key)
    except TypeError:  # an unhashable leaf: check without the cache
        key, out = None, None
    if out is not None:
        _CHECKED.move_to_end(key)
        return out
    out = jax.eval_shape(
        score_fn, jax.ShapeDtypeStruct((), dtype), jax.ShapeDtypeStruct(shape, dtype)
    )
    if key is not None:
        _CHECKED[key] = out
        if len(_CHECKED) > _CHECKED_SIZE:
            _CHECKED.popitem(last=False)
    return out
