"""Runtime checks and JAX's persistent compilation cache.

Equinox's runtime errors (`eqx.error_if`: scoresde's non-finite score check and
Diffrax's own checks) compile to host callbacks, and JAX does not store a program
with host callbacks in its persistent compilation cache. The command line
therefore draws its samples inside [`without_runtime_checks`][], with programs
whose checks turn into NaNs (cacheable, so a second run of the same command
starts fast) and, only when an output comes out non-finite, draws them again with
the checks on, for their message. The library's own calls keep the checks.
"""

import contextlib
from collections.abc import Iterator

import equinox._errors as _eqx_errors
import jax


@contextlib.contextmanager
def without_runtime_checks() -> Iterator[None]:
    """Trace the block as with `EQX_ON_ERROR=nan`: Equinox's runtime errors give
    NaNs instead of raising, so the compiled programs have no host callbacks.

    Equinox reads its default mode from a module attribute when it traces an
    error check, and caches that trace, so the block starts and ends with JAX's
    caches cleared: programs traced inside have NaN checks, programs traced
    after it raise again. (If a future Equinox moves the attribute, the checks
    simply stay on.)"""
    if not hasattr(_eqx_errors, "EQX_ON_ERROR"):
        yield
        return
    jax.clear_caches()
    previous = _eqx_errors.EQX_ON_ERROR
    _eqx_errors.EQX_ON_ERROR = "nan"
    try:
        yield
    finally:
        _eqx_errors.EQX_ON_ERROR = previous
        jax.clear_caches()
