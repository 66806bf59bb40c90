import os

import jax
import pytest


# As in Equinox's and Diffrax's test suites: silent broadcasting and silent
# dtype promotion are errors, so shape and dtype bugs fail loudly.
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

# The command line's persistent compilation cache stays off in tests (each test
# compiles as a new user would); tests of the cache set it themselves.
os.environ.setdefault("SCORESDE_CACHE_DIR", "")


@pytest.fixture
def getkey():
    """A fresh PRNG key each call, deterministic per test."""
    key = jax.random.key(0)
    count = [0]

    def _getkey():
        count[0] += 1
        return jax.random.fold_in(key, count[0])

    return _getkey
