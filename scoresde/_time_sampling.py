r"""How denoising score matching draws its times: the numbers $u \in [0, 1)$
that a weighting maps to times $t$ (uniformly, or by importance sampling)."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._custom_types import KeyArray, default_float
from ._registry import Registry


class AbstractTimeSampling(eqx.Module):
    r"""How the $n$ numbers $u_i \in [0, 1)$ behind a batch's times are drawn.
    Each $u_i$ is marginally uniform, so the loss stays unbiased; the
    variance-reducing ones correlate them within the batch."""

    @abc.abstractmethod
    def uniforms(self, key: KeyArray, n: int) -> Float[Array, " n"]:
        """`n` numbers in $[0, 1)$, each marginally uniform."""


class IIDTimes(AbstractTimeSampling):
    r"""Independent $u_i \sim U[0, 1)$ (the default)."""

    def uniforms(self, key: KeyArray, n: int) -> Float[Array, " n"]:
        return jax.random.uniform(key, (n,), default_float())


class StratifiedTimes(AbstractTimeSampling):
    r"""One $u_i$ in each interval $[i/n, (i+1)/n)$, with one shared uniform
    offset: $u_i = (i + u_0)/n$ (Kingma et al. 2021, "Variational diffusion
    models", low-discrepancy sampler)."""

    def uniforms(self, key: KeyArray, n: int) -> Float[Array, " n"]:
        dtype = default_float()
        u0 = jax.random.uniform(key, (), dtype)
        return (jnp.arange(n, dtype=dtype) + u0) / n


class AntitheticTimes(AbstractTimeSampling):
    r"""Antithetic pairs $u$, $1 - u$ (the last one unpaired for odd $n$)."""

    def uniforms(self, key: KeyArray, n: int) -> Float[Array, " n"]:
        half = jax.random.uniform(key, ((n + 1) // 2,), default_float())
        return jnp.concatenate([half, 1.0 - half])[:n]


#: The names `scoresde train --time-sampling` and run directories use.
TIME_SAMPLINGS: Registry[AbstractTimeSampling] = Registry("time sampling")
TIME_SAMPLINGS.register("iid", IIDTimes, "independent uniform times")
TIME_SAMPLINGS.register("stratified", StratifiedTimes, "one time per 1/n interval")
TIME_SAMPLINGS.register("antithetic", AntitheticTimes, "antithetic pairs u, 1 - u")


def time_sampling_name(sampling: AbstractTimeSampling) -> str:
    """The registered name of `sampling`'s class (for `config.json`)."""
    for entry in TIME_SAMPLINGS:
        if type(sampling) is entry.build:
            return entry.name
    return type(sampling).__name__
