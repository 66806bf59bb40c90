r"""A guard for score functions that return NaN or inf.

Inside a compiled sampler or likelihood solve, a non-finite score would surface as
Diffrax's generic "maximum number of steps" or NaN-state error, deep inside `jit`.
[`check_finite_score`][] wraps a score function so that the first non-finite
value raises an error that says so and names the time, through
`eqx.branched_error_if` (whose messages are static strings: the time is given to
`1 / resolution` of $T$).
"""

import functools
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp


#: Times in the error message are rounded to this fraction of $T$.
TIME_RESOLUTION = 1000


@functools.lru_cache(maxsize=8)
def _messages(T: float, resolution: int) -> tuple[str, ...]:
    digits = len(str(resolution)) - 1
    return tuple(
        f"The score function returned NaN or inf at t = {T * k / resolution:.{digits}f} "
        "(the first time a finite state gave a non-finite score). Check the model "
        "(a diverged training run?) or the score function at that time."
        for k in range(resolution + 1)
    )


class FiniteScore(eqx.Module):
    """`score_fn` with the check of [`check_finite_score`][] (a Module, so that
    wrapping the same score function twice gives equal objects and compiled
    samplers are reused)."""

    score_fn: Callable
    T: float = eqx.field(static=True)
    resolution: int = eqx.field(static=True)

    def __call__(self, t, y, *args):
        out = self.score_fn(t, y, *args)
        # Only a finite input counts: once the state is NaN every later call is NaN
        # too, and Equinox reports the last error raised, not the first.
        bad = jnp.all(jnp.isfinite(y)) & jnp.logical_not(jnp.all(jnp.isfinite(out)))
        index = jnp.round(jnp.asarray(t) / self.T * self.resolution)
        index = jnp.clip(index, 0, self.resolution)
        # Under vmap the index is the largest over the batch: only bad ones count.
        index = jnp.where(bad, index, 0).astype(jnp.int32)
        messages = _messages(self.T, self.resolution)
        return eqx.branched_error_if(out, bad, index, messages)


def check_finite_score(
    score_fn: Callable, T: float = 1.0, resolution: int = TIME_RESOLUTION
) -> FiniteScore:
    r"""Wrap `score_fn(t, y, *args)` so that a NaN or inf in its value raises an
    `equinox.EquinoxRuntimeError` (a `RuntimeError`) saying "The score function
    returned NaN or inf at t = ..." with the time to `T / resolution`.

    The check is `eqx.branched_error_if` on the score's value, so it works under
    `jit`, `vmap` and inside Diffrax solves; with `EQX_ON_ERROR=nan` it returns
    NaN instead of raising, as every `eqx.error_if` does. A score function that
    is already wrapped is returned as it is.

    **Arguments:**

    - `score_fn`: a per-sample score function `(t, y, *args) -> like y`.
    - `T`: the end time of the SDE (times are named in $[0, T]$).
    - `resolution`: how finely the time in the message is given.

    **Returns:**

    The wrapped score function, with the same signature and values.
    """
    if isinstance(score_fn, FiniteScore):
        return score_fn
    return FiniteScore(score_fn, float(T), int(resolution))


def first_line_of_error(error: BaseException) -> str:
    """The message of an error raised through `check_finite_score` (or any
    `eqx.error_if`), without Equinox's explanation of how to debug it: what a
    command line prints."""
    text = str(error).strip()
    for line in text.splitlines():
        if "returned NaN or inf" in line:
            return line.split("EquinoxRuntimeError: ")[-1].strip()
    return text.splitlines()[0] if text else type(error).__name__
