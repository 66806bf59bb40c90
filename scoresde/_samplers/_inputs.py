"""Boundary checks shared by `scoresde.sample` and the probability-flow encoder."""

from typing import Any

import jax

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
        out = jax.eval_shape(
            score_fn,
            jax.ShapeDtypeStruct((), dtype),
            jax.ShapeDtypeStruct(shape, dtype),
        )
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
