r"""The sampler family: one abstract root and the intermediate bases that hold the
shared code once (modelled on `diffrax/_solver/base.py`).

```
AbstractSampler                      sample_batch, check_sde, final_time (abstract)
├── AbstractContinuousSampler        stops at t_eps; every SDE fits
│   ├── ProbabilityFlowODE           adaptive or fixed steps; may couple a batch
│   └── AbstractFixedStepSampler     num_steps on a time grid; vmapped per sample
│       ├── ReverseSDE, PredictorCorrector
│       └── DDIM, DPMSolver, EDMHeun
└── AbstractChainSampler             a discrete chain down to t = 0; vmapped
    ├── Ancestral
    └── AnnealedLangevin
```

Every class is abstract or final; a concrete class only fills in abstract
methods."""

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
from .._validation import check_bool as check_bool
from .time_grid import AbstractTimeGrid


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
    draws one key per sample, calls `sample_batch` on chunks of keys under
    `jit`, and concatenates the chunks.

    The family has two intermediate bases: `AbstractContinuousSampler` (the
    samplers of a continuous-time SDE, which stop at $t_\epsilon$; its subclass
    `AbstractFixedStepSampler` steps on a time grid) and `AbstractChainSampler`
    (discrete chains that end at $t = 0$). A new sampler subclasses one of them
    and fills in its abstract methods.
    """

    @abc.abstractmethod
    def check_sde(self, sde: AbstractSDE) -> None:
        """Raise a `ValueError` if this sampler cannot serve `sde`."""

    @abc.abstractmethod
    def final_time(self, t_eps: float) -> float:
        """The time at which this sampler stops: `t_eps` for the samplers of a
        continuous SDE, 0 for the discrete chains (ancestral, annealed Langevin)."""

    @abc.abstractmethod
    def sample_batch(
        self,
        sde: AbstractSDE,
        score_fn: Callable,
        keys: KeyArray,
        shape: tuple[int, ...],
        *,
        t_eps: float,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
        labels: Int[Array, " n"] | None = None,
    ) -> SamplerOutput:
        """Draw one sample per key in `keys` (shape `(n,)`).

        **Arguments:**

        - `sde`: the forward SDE.
        - `score_fn`: the score function `(t, y) -> score` of ONE sample, or, with
          `labels`, `(t, y, label) -> score`.
        - `keys`: one PRNG key per sample.
        - `shape`: the shape of one sample.
        - `t_eps`: the time at which sampling stops (continuous samplers).
        - `save_ts`: times at which to record the path, descending, or `None`.
        - `progress_meter`: a Diffrax progress meter for the solve.
        - `labels`: `None`, or one integer label per sample (shape `(n,)`):
          sample `i` is then drawn with the score `score_fn(t, y, labels[i])`.

        **Returns:**

        A `SamplerOutput` whose leaves have a leading axis of size `n`.
        """


def bind_label(score_fn: Callable, label: Array | None) -> ScoreFn:
    """The per-sample score `(t, y) -> score_fn(t, y, label)`, or `score_fn` itself
    when `label` is `None` (an unconditional score function `(t, y)`)."""
    if label is None:
        return score_fn
    return lambda t, y: score_fn(t, y, label)


def vmap_over_samples(
    sample_one: Callable[[ScoreFn, KeyArray], SamplerOutput],
    score_fn: Callable,
    keys: KeyArray,
    labels: Array | None,
) -> SamplerOutput:
    """`sample_one(score, key)` `vmap`ped over `(keys, labels)` with the axis name
    `"samples"` (see [`scoresde.LangevinCorrector`][]), each sample's label bound
    into its score function."""

    def one(key, label):
        return sample_one(bind_label(score_fn, label), key)

    return jax.vmap(one, axis_name=SAMPLE_AXIS)(keys, labels)


class AbstractContinuousSampler(AbstractSampler):
    r"""A sampler of a continuous-time SDE, from $T$ down to $t_\epsilon$. It
    reads the SDE only through its drift, diffusion and exact kernel
    $(\alpha_t, \sigma_t)$ = `sde.marginal(t)`, so every SDE of scoresde fits
    (the discrete DDPM and NCSN as the SDEs they define)."""

    def check_sde(self, sde: AbstractSDE) -> None:
        del sde

    def final_time(self, t_eps: float) -> float:
        return t_eps


class AbstractFixedStepSampler(AbstractContinuousSampler):
    r"""A continuous-time sampler that takes `num_steps` steps on the times of a
    time grid (`grid`, an [`scoresde.AbstractTimeGrid`][]) from $T$ down to
    $t_\epsilon$, each sample on its own (the batch is `sample_one` `vmap`ped
    over the keys), so a sample depends only on its key."""

    num_steps: eqx.AbstractVar[int]
    grid: eqx.AbstractVar[AbstractTimeGrid]

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
        """Draw ONE sample of shape `shape` (called under `jax.vmap`), with the
        score function `(t, y) -> score` of that sample (its label bound)."""

    def sample_batch(
        self,
        sde,
        score_fn,
        keys,
        shape,
        *,
        t_eps,
        save_ts,
        progress_meter,
        labels=None,
    ) -> SamplerOutput:
        def one(score, key):
            return self.sample_one(
                sde,
                score,
                key,
                shape,
                t_eps=t_eps,
                save_ts=save_ts,
                progress_meter=progress_meter,
            )

        return vmap_over_samples(one, score_fn, keys, labels)


class AbstractChainSampler(AbstractSampler):
    """A discrete sampling chain (DDPM ancestral sampling, annealed Langevin) on the
    grid $t_i = i/N$ of its SDE, ending at $t = 0$ (the `t_eps` of
    [`scoresde.sample`][] is not used). Each sample runs its own chain (the batch
    is `sample_one` `vmap`ped over the keys). Subclasses say which SDEs they
    serve in `check_sde`."""

    def final_time(self, t_eps: float) -> float:
        del t_eps
        return 0.0

    @abc.abstractmethod
    def sample_one(
        self,
        sde: AbstractSDE,
        score_fn: ScoreFn,
        key: KeyArray,
        shape: tuple[int, ...],
        *,
        save_ts: Float[Array, " times"] | None,
        progress_meter: diffrax.AbstractProgressMeter,
    ) -> SamplerOutput:
        """Draw ONE sample of shape `shape` (called under `jax.vmap`)."""

    def sample_batch(
        self,
        sde,
        score_fn,
        keys,
        shape,
        *,
        t_eps,
        save_ts,
        progress_meter,
        labels=None,
    ) -> SamplerOutput:
        del t_eps

        def one(score, key):
            return self.sample_one(
                sde,
                score,
                key,
                shape,
                save_ts=save_ts,
                progress_meter=progress_meter,
            )

        return vmap_over_samples(one, score_fn, keys, labels)


def solver_stats(sol: diffrax.Solution, nfe: Array) -> dict[str, Array]:
    """The statistics every sampler reports, from a Diffrax solution and the
    number of score evaluations `nfe` (see `_nfe.py` for how it is counted)."""
    stats = sol.stats
    return dict(
        nfe=jnp.asarray(nfe, jnp.int32),
        num_steps=jnp.asarray(stats["num_steps"], jnp.int32),
        num_accepted_steps=jnp.asarray(stats["num_accepted_steps"], jnp.int32),
        num_rejected_steps=jnp.asarray(stats["num_rejected_steps"], jnp.int32),
    )


def data_prediction(
    sde: AbstractSDE, score_fn: ScoreFn, t: Array | float, y: Array
) -> Array:
    r"""Tweedie's formula (Efron 2011; Song et al. 2021, appendix): the posterior
    mean $\hat y_0 = \mathbb{E}[y_0 \mid y_t] = \big(y_t + \sigma_t^2
    \nabla_y\log p_t(y_t)\big) / \alpha_t$ with $(\alpha_t, \sigma_t)$ =
    `sde.marginal(t)`: the "data prediction" of DPM-Solver++ and EDM's denoiser
    $D$. One score evaluation."""
    alpha, sigma = sde.marginal(t)
    return ((y + sigma**2 * score_fn(t, y)) / alpha).astype(y.dtype)


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
