r"""The abstract sampler, and the pieces every sampler shares."""

import abc
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._custom_types import KeyArray
from .._sde import AbstractSDE


#: The name of the `vmap` axis over samples in [`scoresde.sample`][].
SAMPLE_AXIS = "samples"

#: A per-sample score function `(t, y) -> score`, `score` of the shape of `y`.
ScoreFn = Callable[[Any, Array], Array]


class SamplerOutput(eqx.Module):
    """What a sampler returns for ONE sample: the final `sample` (of the sample's
    shape), the trajectory at the requested save times (shape `(times, *shape)`,
    or `None`), and the solver statistics `stats` (`nfe`, `num_steps`,
    `num_accepted_steps`, `num_rejected_steps`, each a scalar integer array).
    From `sample_batch` every leaf has a leading batch axis."""

    sample: Float[Array, "..."]
    trajectory: Float[Array, "..."] | None
    stats: dict[str, Int[Array, "..."]]


class AbstractSampler(eqx.Module):
    r"""Base class for the samplers of [`scoresde.sample`][].

    A sampler turns a draw from the prior $p_T$ into a draw from (an
    approximation of) $p_{t_\epsilon} \approx p_0$ using a score function
    $s(t, y) \approx \nabla_y \log p_t(y)$. Samplers are configuration only
    (an `eqx.Module`, so a pytree): [`scoresde.sample`][] validates its inputs,
    draws one key per sample, `vmap`s `sample_one` over the samples, compiles
    once per configuration and processes large batches in chunks.

    Subclasses implement `sample_one`, and may override `check_sde` to reject
    SDEs they do not fit, and `sample_batch` to solve a whole batch at once.
    """

    def check_sde(self, sde: AbstractSDE) -> None:
        """Raise a `ValueError` if this sampler does not fit `sde`. By default every
        SDE fits."""

    def final_time(self, t_eps: float) -> float:
        """The time at which this sampler stops: `t_eps` for the samplers of a
        continuous SDE, 0 for the discrete chains (ancestral, annealed Langevin)."""
        return t_eps

    @abc.abstractmethod
    def sample_one(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        key: KeyArray,
        shape: tuple[int, ...],
        *,
        t_eps: float,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
    ) -> SamplerOutput:
        """Draw ONE sample of shape `shape` (called under `jax.vmap`).

        **Arguments:**

        - `sde`: the forward SDE.
        - `score_fn`: the score function `(t, y) -> score`.
        - `key`: this sample's PRNG key.
        - `shape`: the shape of one sample.
        - `t_eps`: the time at which sampling stops (continuous samplers).
        - `save_ts`: times at which to record the path, in the order the sampler
          visits them (descending for sampling), or `None`.
        - `progress_meter`: a Diffrax progress meter for the solve.

        **Returns:**

        A `SamplerOutput`.
        """

    def sample_batch(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        keys: KeyArray,
        shape: tuple[int, ...],
        *,
        t_eps: float,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
        labels: Int[Array, " n"] | None = None,
    ) -> SamplerOutput:
        """Draw one sample per key in `keys` (shape `(n,)`): a `SamplerOutput` whose
        leaves have a leading axis of size `n`. By default `sample_one` is
        `vmap`ped over the keys, with the axis name `"samples"` (see
        [`scoresde.LangevinCorrector`][]); a sampler that couples its samples
        (shared adaptive steps) overrides this. With `labels` (integers, shape
        `(n,)`), sample `i` uses the score `score_fn(t, y, labels[i])`."""

        def one(key, label):
            return self.sample_one(
                sde,
                bind_label(score_fn, label),
                key,
                shape,
                t_eps=t_eps,
                save_ts=save_ts,
                progress_meter=progress_meter,
            )

        return jax.vmap(one, axis_name=SAMPLE_AXIS)(keys, labels)


def bind_label(score_fn: Callable, label: Array | None) -> ScoreFn:
    """The per-sample score `(t, y) -> score_fn(t, y, label)`, or `score_fn` itself
    when `label` is `None` (an unconditional score function `(t, y)`)."""
    if label is None:
        return score_fn
    return lambda t, y: score_fn(t, y, label)


def solver_stats(sol: diffrax.Solution, nfe: Array) -> dict[str, Array]:
    """The statistics every sampler reports, from a Diffrax solution."""
    stats = sol.stats
    return dict(
        nfe=jnp.asarray(nfe, jnp.int32),
        num_steps=jnp.asarray(stats["num_steps"], jnp.int32),
        num_accepted_steps=jnp.asarray(stats["num_accepted_steps"], jnp.int32),
        num_rejected_steps=jnp.asarray(stats["num_rejected_steps"], jnp.int32),
    )


def tweedie_denoise(sde: AbstractSDE, score_fn: ScoreFn, t: float, y: Array) -> Array:
    r"""Tweedie's formula (Efron 2011; Song et al. 2021, appendix): the posterior
    mean $\mathbb{E}[y_0 \mid y_t] = \big(y_t + s(t)^2 \nabla_y\log p_t(y_t)\big)
    / m(t)$ with $(m, s)$ = `sde.marginal(t)`. One score evaluation."""
    mean_coeff, std = sde.marginal(t)
    return ((y + std**2 * score_fn(t, y)) / mean_coeff).astype(y.dtype)


def check_fixed_step_solver(solver: Any, name: str) -> None:
    """A Diffrax solver instance; reject what is not one with a clear message."""
    if not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(
            f"`solver` of {name} must be a Diffrax solver instance such as "
            f"diffrax.Euler(), got {solver!r}."
        )


def reverse_saveat(T: float, save_ts: Array | None) -> diffrax.SaveAt:
    """For a solve on the reversed clock $u = T - t$: save the final state, and the
    states at `save_ts` (descending times $t$, so ascending $u$) when given. The
    solution's `ys[:-1]` is then the trajectory and `ys[-1]` the final state."""
    if save_ts is None:
        return diffrax.SaveAt(t1=True)
    return diffrax.SaveAt(ts=T - save_ts, t1=True)
