"""`sample`: draw samples with any sampler, batched, chunked and compiled once."""

import math
from collections.abc import Callable, Sequence
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Float, Int

from ._custom_types import KeyArray, default_float
from ._distributed import default_mesh, pad_by_repeats, put
from ._guidance import prepare_conditional
from ._nonfinite import check_finite_score
from ._samplers import AbstractSampler, ProbabilityFlowODE
from ._samplers._inputs import check_sampling_inputs as check_sampling_inputs
from ._samplers.base import SamplerOutput
from ._sde import AbstractSDE
from ._validation import check_int, check_key, check_shape, is_concrete


#: Default chunk: at most this many numbers per state (64 MiB in float32).
_CHUNK_ELEMENTS = 2**24


def sample(
    key: KeyArray,
    sde: AbstractSDE,
    score_fn: Callable[[Any, Array], Array],
    *,
    num_samples: int,
    shape: tuple[int, ...],
    sampler: AbstractSampler = ProbabilityFlowODE(),
    t_eps: float = 1e-3,
    chunk_size: int | None = None,
    save_ts: ArrayLike | Sequence[float] | None = None,
    progress: bool = False,
    return_stats: bool = False,
    labels: ArrayLike | Sequence[int] | None = None,
    guidance: float = 0.0,
    mesh: Mesh | None = None,
) -> Float[Array, "..."] | tuple[Float[Array, "..."], dict[str, Array]]:
    r"""Draw `num_samples` samples from the model defined by `sde` and `score_fn`.

    Each sample starts from the prior at $t = T$ and is carried down to
    $t_\epsilon$ (or to 0, for the discrete chains) by `sampler`. One key is
    drawn per sample, and the sampler is `vmap`ped over samples and compiled
    once per configuration (sampler, SDE, score function, shape, `t_eps`,
    `chunk_size`, `save_ts` length). Batches larger than `chunk_size` are
    processed chunk by chunk, so memory stays bounded; a sample depends only on
    its own key, so the result does not depend on `chunk_size`, except with
    [`scoresde.PredictorCorrector`][], whose corrector step size is shared by
    the samples of a chunk, and with the adaptive
    [`scoresde.ProbabilityFlowODE`][]'s shared steps (its default), chosen for
    the chunk as a whole, which change a sample by no more than the solver's
    error.

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `sde`: the forward SDE (any `scoresde.AbstractSDE`).
    - `score_fn`: a per-sample score function `(t, y) -> score` with `score` of
      the shape of `y`: a trained `ScoreModel`, or [`scoresde.exact_score`][].
    - `num_samples`: how many samples, >= 1.
    - `shape`: the shape of one sample, e.g. `(2,)` or `(1, 8, 8)`.
    - `sampler`: a [`scoresde.ReverseSDE`][], [`scoresde.PredictorCorrector`][],
      [`scoresde.ProbabilityFlowODE`][] (default), [`scoresde.Ancestral`][],
      [`scoresde.AnnealedLangevin`][], or one of the few-step samplers
      [`scoresde.DPMSolver`][], [`scoresde.EDMHeun`][] and [`scoresde.DDIM`][].
    - `t_eps`: the time in $(0, T)$ at which the continuous samplers stop
      (default $10^{-3}$, as in Song et al. 2021 for VP SDEs).
    - `chunk_size`: samples per compiled batch; `None` picks the largest chunk
      with at most $2^{24}$ numbers per state. The last chunk is padded to the
      chunk size (and, with `None`, the chunk size rounded up to one of eight
      sizes per power of two), so that a new `num_samples` seldom compiles
      again.
    - `save_ts`: times in $[t_\epsilon, T]$ (in $[0, T]$ for the discrete
      chains) at which to record each sample's path, in any order. Between
      solver steps the path is interpolated linearly.
    - `progress`: show a progress bar (Diffrax's `TqdmProgressMeter`) per chunk.
    - `return_stats`: also return the solver statistics.
    - `labels`: class labels for a class-conditional score function (called as
      `score_fn(t, y, label)`: a [`scoresde.ScoreModel`][] with `num_classes`,
      `run.score` of such a run, or [`scoresde.exact_score`][], whose classes are
      the mixture's components): one integer for every sample, or integers of
      shape `(num_samples,)`, in `0..num_classes - 1`. `None` (default):
      unconditional sampling.
    - `guidance`: the classifier-free guidance weight $w \ge 0$ (Ho & Salimans
      2022), used with `labels`: the score becomes
      $(1 + w)\,s(t, y, c) - w\,s(t, y, \varnothing)$
      ([`scoresde.ClassifierFreeGuidance`][]). 0 (default) is plain conditional
      sampling; each guided score evaluation costs two evaluations of `score_fn`
      (`stats["nfe"]` counts guided evaluations).
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis over which the samples
      are split (default `None`: a 1-D mesh over `jax.devices()`, every device
      of every process). Each chunk is split evenly: `chunk_size` is rounded up
      to a multiple of the number of devices, and padded samples (repeats of
      the first ones) are dropped. A sample depends on its own key only (and
      on its chunk, through the shared adaptive steps, whose largest error is
      the same on any split), so the result is the same on 1, 2 or 4 devices
      and 1 or several processes, whenever the chunks are the same: the
      default `chunk_size` with a single chunk, or a `chunk_size` that every
      device count divides — bit for bit with the same number of devices per
      process, and otherwise up to round-off when `score_fn` is a network (XLA
      rounds its matrix products differently for another number of rows per
      device; an adaptive solver can then take other steps). With several
      processes (`jax.distributed`) every process calls `sample` with the same
      arguments and gets the global
      array, of which it holds its own devices' part
      (`jax.experimental.multihost_utils.process_allgather` gathers it).

    **Returns:**

    The samples, shape `(num_samples, *shape)`; with `save_ts`, the trajectories,
    shape `(num_samples, len(save_ts), *shape)` (the final samples are the last
    sampler state, before any denoising step; pass `save_ts` without it to get
    them). With `return_stats=True`, a pair `(samples, stats)` where `stats` maps
    `"nfe"` (score evaluations, exact; -1 where not known, for a Diffrax solver
    whose stages scoresde does not count, such as an implicit one),
    `"num_steps"`, `"num_accepted_steps"` and `"num_rejected_steps"` to integer
    arrays of shape `(num_samples,)`, one entry
    per sample (equal within a chunk for shared adaptive steps). Per-sample
    adaptive solves run under `vmap` until the batch's slowest sample is done, so
    a batch costs `stats["nfe"].max()` batched evaluations.

    !!! example

        ```python
        import jax
        import scoresde as ss

        mix = ss.datasets.get("nine-gaussians")
        sde = ss.VPSDE()
        ys = ss.sample(jax.random.key(0), sde, ss.exact_score(mix, sde),
                       num_samples=1000, shape=(2,))          # (1000, 2)
        ```
    """
    if not isinstance(sampler, AbstractSampler):
        raise TypeError(
            "`sampler` must be a scoresde sampler such as ss.ProbabilityFlowODE(), "
            f"got {sampler!r}."
        )
    check_key(key)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    shape = check_shape("shape", shape)
    t_eps = check_sampling_inputs(sde, score_fn, shape, t_eps)
    sampler.check_sde(sde)
    score_fn, labels = prepare_conditional(
        score_fn, labels, guidance, num_samples, shape
    )
    score_fn = check_finite_score(score_fn, T=float(sde.T))
    mesh = default_mesh(mesh)
    num_devices = mesh.shape["data"]
    if chunk_size is None:
        cap = max(1, _CHUNK_ELEMENTS // math.prod(shape))
        chunk_size = min(cap, _bucket(num_samples))
    else:
        chunk_size = min(check_int("chunk_size", chunk_size, minimum=1), num_samples)
    # Every device gets an equal part of each chunk.
    chunk_size = -(-chunk_size // num_devices) * num_devices
    order, save_ts = _check_save_ts(save_ts, sampler.final_time(t_eps), sde.T)
    for name, flag in (("progress", progress), ("return_stats", return_stats)):
        if not isinstance(flag, bool):
            raise TypeError(f"`{name}` must be a bool, got {flag!r}.")

    out = draw_samples(
        key,
        sde,
        score_fn,
        sampler,
        num_samples=num_samples,
        shape=shape,
        t_eps=t_eps,
        chunk_size=chunk_size,
        save_ts=save_ts,
        progress=progress,
        labels=labels,
        mesh=mesh,
    )
    ys = out.sample if save_ts is None else out.trajectory[:, order]
    return (ys, out.stats) if return_stats else ys


def draw_samples(
    key: KeyArray,
    sde: AbstractSDE,
    score_fn: Callable,
    sampler: AbstractSampler,
    *,
    num_samples: int,
    shape: tuple[int, ...],
    t_eps: float,
    chunk_size: int,
    save_ts: Array | None,
    progress: bool,
    labels: Int[Array, " num_samples"] | None,
    mesh: Mesh | None = None,
) -> SamplerOutput:
    """The validated core of `sample`: one key per sample, the batch in chunks of
    `chunk_size` (the last one padded, so that every chunk has the same shape and
    compiles once), and `labels` (`None`, or one integer label per sample, passed
    to the score function as `score_fn(t, y, label)`) chunked with the keys.
    With `mesh`, each chunk is split over the devices of its `"data"` axis
    (`chunk_size` must then be a multiple of their number)."""
    keys = jax.random.split(key, num_samples)
    num_chunks = -(-num_samples // chunk_size)
    keys, labels = pad_by_repeats((keys, labels), num_chunks * chunk_size)
    sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("data"))
    outputs = []
    for i in range(num_chunks):
        chunk = slice(i * chunk_size, (i + 1) * chunk_size)
        chunk_keys = keys[chunk]
        chunk_labels = None if labels is None else labels[chunk]
        if sharding is not None:
            chunk_keys = put(chunk_keys, sharding)
            if chunk_labels is not None:
                chunk_labels = put(chunk_labels, sharding)
        outputs.append(
            _sample_chunk(
                sampler,
                sde,
                score_fn,
                chunk_keys,
                chunk_labels,
                shape,
                t_eps,
                save_ts,
                progress,
                sharding,
            )
        )
    if len(outputs) == 1:
        return jax.tree_util.tree_map(lambda x: x[:num_samples], outputs[0])
    return jax.tree_util.tree_map(
        lambda *xs: jnp.concatenate(xs)[:num_samples], *outputs
    )


@eqx.filter_jit
def _sample_chunk(
    sampler, sde, score_fn, keys, labels, shape, t_eps, save_ts, progress, sharding
):
    meter = diffrax.TqdmProgressMeter() if progress else diffrax.NoProgressMeter()
    if sharding is not None:
        keys = jax.lax.with_sharding_constraint(keys, sharding)
    out = sampler.sample_batch(
        sde,
        score_fn,
        keys,
        shape,
        t_eps=t_eps,
        save_ts=save_ts,
        progress_meter=meter,
        labels=labels,
    )
    if sharding is not None:
        out = jax.lax.with_sharding_constraint(out, sharding)
    return out


def _check_save_ts(save_ts, t_end, T):
    """Validate `save_ts`; return `(order, sorted_descending)` so that
    `trajectory[:, order]` is in the caller's order."""
    if save_ts is None:
        return None, None
    if not is_concrete(save_ts):
        raise TypeError("`save_ts` must be concrete (not traced), as it fixes shapes.")
    ts = np.asarray(save_ts, dtype=np.float64)
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError(
            f"`save_ts` must be a non-empty 1-D array of times, got shape {ts.shape}."
        )
    lo = t_end
    if not np.all((ts >= lo - 1e-7) & (ts <= T + 1e-7)):
        raise ValueError(
            f"`save_ts` must lie in [{lo:g}, {T:g}] (from the sampler's final time to "
            f"T), got values in [{ts.min():.4g}, {ts.max():.4g}]."
        )
    if np.unique(ts).size != ts.size:
        raise ValueError("`save_ts` must not repeat a time.")
    perm = np.argsort(-ts, kind="stable")
    order = np.argsort(perm)
    ts_sorted = np.clip(ts[perm], lo, T)
    return order, jnp.asarray(ts_sorted, default_float())


def _bucket(n: int) -> int:
    """`n` rounded up to a multiple of 1/8 of its power of two (at most 12.5% more):
    the default chunk sizes, so that nearby `num_samples` share one compilation."""
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step
