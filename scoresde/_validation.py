"""Boundary checks: clear `ValueError`s naming the argument, the value and what is
allowed. Each check is skipped for traced values (inside `jit`), where the caller's
value is not known; the public entry points run them on concrete input."""

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np


def is_concrete(x: Any) -> bool:
    """True when `x` holds a value known now (not a tracer inside a transform)."""
    leaves = jax.tree_util.tree_leaves(x)
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _describe(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item())
    if arr.size <= 6:
        return repr(arr.tolist())
    return f"an array of shape {arr.shape} (min {arr.min():.4g}, max {arr.max():.4g})"


def check_real_scalar(name: str, value: Any) -> None:
    """`value` must be a real number (or 0-d array)."""
    if not is_concrete(value):
        return
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be a real number, got the bool {value!r}.")
    try:
        arr = np.asarray(value)
    except Exception as e:  # pragma: no cover - exotic objects
        raise TypeError(f"`{name}` must be a real number, got {value!r}.") from e
    if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            f"`{name}` must be a real number (a scalar), got {_describe(value)}."
        )
    if not np.isfinite(arr):
        raise ValueError(f"`{name}` must be finite, got {arr.item()!r}.")


def check_positive(name: str, value: Any) -> None:
    """`value` must be a finite real number > 0."""
    check_real_scalar(name, value)
    if is_concrete(value) and not float(value) > 0:
        raise ValueError(f"`{name}` must be > 0, got {float(value)!r}.")


def check_in_interval(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """`value` must lie in the interval between `low` and `high`."""
    check_real_scalar(name, value)
    if not is_concrete(value):
        return
    v = float(value)
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high):
        interval = (
            f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
        raise ValueError(f"`{name}` must lie in {interval}, got {v!r}.")


def check_less(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """`a < b`."""
    if is_concrete((a, b)) and not float(a) < float(b):
        raise ValueError(
            f"`{name_a}` must be < `{name_b}`, got {name_a}={float(a)!r} and "
            f"{name_b}={float(b)!r}."
        )


def check_key(key: Any, name: str = "key") -> None:
    """`key` must be ONE PRNG key: `jax.random.key(seed)` (or a legacy
    `jax.random.PRNGKey(seed)`, uint32 of shape (2,))."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return
        raise ValueError(
            f"`{name}` must be ONE PRNG key, got a batch of keys of shape {shape}; "
            "pass a single jax.random.key(seed)."
        )
    if dtype == np.uint32 and shape == (2,):
        return  # a legacy jax.random.PRNGKey
    raise TypeError(
        f"`{name}` must be a PRNG key such as jax.random.key(0), got "
        f"{type(key).__name__}"
        + ("" if dtype is None else f" of dtype {dtype} and shape {shape}")
        + "."
    )


def check_time(t: Any, T: float, name: str = "t") -> None:
    """Concrete times (a scalar or an array) must be finite and lie in [0, T]."""
    if not is_concrete(t) or t is None:
        return
    try:
        arr = np.asarray(t, dtype=np.float64)
    except Exception:  # noqa: BLE001 - the caller's own errors say more
        return
    if arr.size and not (
        np.all(np.isfinite(arr)) and np.all(arr >= 0) and np.all(arr <= T)
    ):
        raise ValueError(
            f"`{name}` must lie in [0, T] = [0, {T:g}], got {_describe(arr)}."
        )


def check_bool(name: str, value: Any) -> bool:
    """`value` must be a Python bool; returns it."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r}.")
    return value


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """`value` must be a Python/NumPy integer >= `minimum`; returns it as `int`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_shape(name: str, shape: Any) -> tuple[int, ...]:
    """`shape` must be a tuple of positive integers; returns it as a tuple."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, Sequence) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
        for s in shape
    ):
        raise ValueError(
            f"`{name}` must be a tuple of positive integers, got {shape!r}."
        )
    return tuple(int(s) for s in shape)


def check_vector(
    name: str, value: Any, *, positive: bool = False, nonneg: bool = False
) -> np.ndarray:
    """A finite, non-empty 1-D array of reals, returned as float64 NumPy."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except Exception as e:
        raise TypeError(
            f"`{name}` must be a 1-D array of real numbers, got {value!r}."
        ) from e
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array, got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {_describe(arr)}.")
    if positive and not np.all(arr > 0):
        raise ValueError(f"`{name}` must be > 0 everywhere, got {_describe(arr)}.")
    if nonneg and not np.all(arr >= 0):
        raise ValueError(f"`{name}` must be >= 0 everywhere, got {_describe(arr)}.")
    return arr
