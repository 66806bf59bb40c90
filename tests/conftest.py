import jax
import pytest


@pytest.fixture
def getkey():
    """A fresh PRNG key each call, deterministic per test."""
    key = jax.random.key(0)
    count = [0]

    def _getkey():
        count[0] += 1
        return jax.random.fold_in(key, count[0])

    return _getkey
