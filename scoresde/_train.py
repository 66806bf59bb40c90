r"""Training: [`scoresde.train`][] validates its arguments and builds the loop's
settings once, starts or resumes the run, and hands both to the loop
(`_train_loop.py`)."""

import contextlib
import pathlib
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax
from jax.sharding import Mesh
from jaxtyping import ArrayLike

from . import _distributed, _rundir
from ._custom_types import KeyArray
from ._model import ScoreModel
from ._time_sampling import AbstractTimeSampling, IIDTimes
from ._train_loop import run_loop
from ._train_setup import (
    build_settings,
    default_optimizer as default_optimizer,
    share_state,
    start,
    start_or_resume,
)
from ._weighting import AbstractWeighting
from .datasets import AbstractDataset


#: The default `checkpoint_seconds` of [`scoresde.train`][]: at most this many seconds
#: of wall time (plus one dispatch) between checkpoints.
DEFAULT_CHECKPOINT_SECONDS = 120.0


class TrainResult(eqx.Module):
    """What [`scoresde.train`][] returns.

    **Fields:**

    - `model`: the trained [`scoresde.ScoreModel`][] (last iterate).
    - `ema_model`: the same with the exponential moving average of the weights
      (usually the better sampler).
    - `losses`: NumPy array, the loss of every step from step 0 (including the
      steps of earlier runs that this one resumed).
    - `step`: the number of steps done in total.
    - `wall_time`: seconds spent in this call.
    - `interrupted`: `True` when Ctrl-C or SIGTERM stopped the run (a checkpoint
      was written first when `checkpoint_dir` was given).
    - `run_dir`: the run directory, or `None`.
    - `interrupted_by`: `"SIGINT"` (Ctrl-C, or `KeyboardInterrupt` raised by the
      callback), `"SIGTERM"`, or `None`.
    - `checkpoint_step`: the step of the run directory's newest checkpoint (equal
      to `step` when the run ended normally or was interrupted), or `None`.
    """

    model: ScoreModel
    ema_model: ScoreModel
    losses: np.ndarray
    step: int
    wall_time: float
    interrupted: bool = False
    run_dir: pathlib.Path | None = None
    interrupted_by: str | None = None
    checkpoint_step: int | None = None


def train(
    model: ScoreModel,
    data: AbstractDataset | ArrayLike,
    *,
    key: KeyArray,
    steps: int,
    batch_size: int = 256,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    warmup_steps: int | None = None,
    weighting: str | AbstractWeighting | Callable = "score",
    t_eps: float = 1e-5,
    time_sampling: AbstractTimeSampling = IIDTimes(),
    ema_decay: float = 0.999,
    steps_per_dispatch: int | None = None,
    labels: ArrayLike | None = None,
    label_dropout: float = 0.0,
    checkpoint_dir: str | pathlib.Path | None = None,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS,
    resume: bool = True,
    mesh: Mesh | None = None,
    progress: bool = True,
    callback: Callable[[int, np.ndarray], Any] | None = None,
) -> TrainResult:
    r"""Train a score model by denoising score matching ([`scoresde.dsm_loss`][]).

    Each update draws a batch from `data` *on the device* (from
    `fold_in(key, step)`), computes the loss and its gradient, applies the
    optimiser and updates the exponential moving average (EMA) of the
    weights, $\bar\theta \leftarrow d_k\,\bar\theta + (1 - d_k)\,\theta$ with
    $d_k = \min(d, (1 + k)/(10 + k))$ at step $k$ (a warm-up, so that short runs do
    not average in the initialisation).
    `steps_per_dispatch` updates run inside one `lax.scan` of one
    `eqx.filter_jit` call, so Python's overhead vanishes for small models
    (convolutional networks on the CPU default to one update per call: XLA:CPU
    runs convolutions inside a compiled loop with a slow generic kernel).

    **Sharding.** The batch is split over the `"data"` axis of `mesh` (default:
    a 1-D mesh over all of `jax.devices()`) and the weights and optimiser
    state are replicated (`eqx.filter_shard`): plain data parallelism, the
    gradient's mean reduced across devices by XLA. Results equal a
    single-device run's up to float reassociation. Several processes (hosts):
    call `jax.distributed.initialize()` first in every process and run the same
    script; `jax.devices()` then spans all processes, and because each batch is
    sampled inside the compiled step under the batch sharding, each process
    materialises only its local part of the batch (every process must
    construct the same `data`, `model` and `key`). The batch of step $k$ depends
    on `fold_in(key, k)` only, not on how it is split, so a run equals a
    one-process run on the same number of devices up to float reassociation.
    With `checkpoint_dir`, process 0 alone locks, reads and writes the run
    directory (the others need no access to it) and sends the state it starts
    or resumes from to the others; a failure to start there stops every
    process.

    **Checkpoints.** With `checkpoint_dir`, the run directory holds
    `config.json` (the model's skeleton — network kind and sizes, SDE and its
    parameters, parameterisation, data shape, `data_std` — and the training
    settings), `checkpoint.eqx` (model, EMA, optimiser state, step, PRNG key and
    losses, via `eqx.tree_serialise_leaves`, with a checksum), the one before it
    (`checkpoint.prev.eqx`) and `losses.npy`. A checkpoint is written every
    `checkpoint_every` steps or `checkpoint_seconds` of wall time, whichever comes
    first (at the end of a dispatch), and at the end; each file durably and
    atomically, so a kill at any moment (SIGKILL included) leaves a complete
    checkpoint. If the directory already holds a checkpoint and `resume=True`,
    training continues from it up to `steps` in total, bit for bit as if never
    interrupted (same device count and settings). A different number of devices
    or processes is allowed: the batches are the same, so the run continues as
    the uninterrupted one up to float reassociation. Ctrl-C or SIGTERM writes a
    checkpoint and returns the result so far (`interrupted=True`). One process at
    a time may write a run directory. Reload with [`scoresde.load`][].

    **Main arguments:**

    - `model`: the [`scoresde.ScoreModel`][] to train (its SDE is the one used).
    - `data`: an [`scoresde.datasets.AbstractDataset`][] or an array
      `(n, *shape)` of your own data (wrapped in
      [`scoresde.datasets.ArrayDataset`][]).
    - `key`: a PRNG key.
    - `steps`: the total number of updates (counting resumed ones).
    - `batch_size`: examples per update (divisible by the number of devices).
    - `learning_rate`: the peak learning rate of the default optimiser.
    - `weighting`: the loss weighting, passed to [`scoresde.dsm_loss`][].
    - `checkpoint_dir`: the run directory (default: none, nothing is written).

    **Other arguments:**

    These are used less often.

    - `optimizer`: any `optax.GradientTransformation`; default
      [`scoresde.default_optimizer`][] (AdamW, warm-up, cosine decay, clipping).
    - `warmup_steps`: of the default optimiser (default `min(1000, steps // 10)`).
    - `t_eps`, `time_sampling`: passed to [`scoresde.dsm_loss`][].
    - `ema_decay`: $d$ in $[0, 1)$ (default 0.999).
    - `steps_per_dispatch`: updates per compiled call (default `None`: 100, or 1
      for a network with convolutions on the CPU).
    - `labels`: integer labels `(n,)` for an array `data` and a class-conditional
      network (labelled datasets such as digits supply their own).
    - `label_dropout`: probability of replacing a label by the null label, for
      classifier-free guidance (default 0).
    - `checkpoint_every`: steps between checkpoints (default `None`: no step
      limit, only `checkpoint_seconds`).
    - `checkpoint_seconds`: the most wall time between checkpoints (default 120
      seconds; `None`: no time limit). Checkpoints fall on dispatch boundaries, so
      the bound is this plus one dispatch.
    - `resume`: continue from a checkpoint in `checkpoint_dir` (default); with
      `False` an existing checkpoint is an error.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis (default: all devices).
    - `progress`: show a tqdm bar with the loss and steps/s.
    - `callback`: called as `callback(step, losses_of_dispatch)` after each
      dispatch; raising `KeyboardInterrupt` in it stops like Ctrl-C.

    **Returns:**

    A [`scoresde.TrainResult`][].

    **Raises:**

    - [`scoresde.NonFiniteLossError`][] at the first non-finite loss, naming the
      step; the run directory keeps a checkpoint of the last finite state.
    - [`scoresde.RunDirectoryInUseError`][] (an `OSError`) when another live
      process trains in `checkpoint_dir`.
    - [`scoresde.CheckpointError`][] when an existing run directory's files are
      damaged beyond what resuming can recover (a damaged newest checkpoint falls
      back to the previous one, with a warning).
    - `OSError` naming the path when the run directory cannot be written (disk
      full, no permission); the previous checkpoint stays intact.

    !!! example

        ```python
        import jax
        import scoresde as ss

        data = ss.datasets.get("nine-gaussians")
        sde = ss.VPSDE()
        net = ss.nets.MLP(data.shape, key=jax.random.key(0))
        model = ss.ScoreModel(net, sde, parameterization="eps")
        result = ss.train(model, data, key=jax.random.key(1), steps=200, progress=False)
        score = result.ema_model(0.5, jax.numpy.zeros(2))
        ```
    """
    start_time = time.perf_counter()
    settings = build_settings(
        model,
        data,
        steps=steps,
        batch_size=batch_size,
        optimizer=optimizer,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        weighting=weighting,
        t_eps=t_eps,
        time_sampling=time_sampling,
        ema_decay=ema_decay,
        steps_per_dispatch=steps_per_dispatch,
        labels=labels,
        label_dropout=label_dropout,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        checkpoint_seconds=checkpoint_seconds,
        mesh=mesh,
        progress=progress,
        callback=callback,
    )
    if settings.run_dir is None:
        state, interrupted_by = run_loop(start(model, key, settings), settings)
    elif jax.process_count() == 1:
        _rundir.make_run_dir(settings.run_dir)
        with _rundir.lock(settings.run_dir):
            state = start_or_resume(model, key, settings, resume)
            state, interrupted_by = run_loop(state, settings)
    else:
        state, interrupted_by = _train_processes(model, key, settings, resume)
    return TrainResult(
        model=eqx.combine(state.params, state.frozen),
        ema_model=eqx.combine(state.ema, state.frozen),
        losses=state.all_losses(),
        step=state.step,
        wall_time=time.perf_counter() - start_time,
        interrupted=interrupted_by is not None,
        run_dir=settings.run_dir,
        interrupted_by=interrupted_by,
        checkpoint_step=state.checkpoint_step,
    )


def _train_processes(model, key, settings, resume):
    """Training with several processes: process 0 alone holds the run directory's
    lock, reads the checkpoint (if any) and writes; it sends the state it starts
    from to the others, so no other process reads a file. A failure to start in
    process 0 (a locked or damaged run directory) stops every process."""
    main = _distributed.is_main_process()
    with contextlib.ExitStack() as stack:
        state, error = None, None
        if main:
            try:
                _rundir.make_run_dir(settings.run_dir)
                stack.enter_context(_rundir.lock(settings.run_dir))
                state = start_or_resume(model, key, settings, resume)
            except Exception as e:  # noqa: BLE001 - re-raised below, after telling
                error = e
        failed = int(_distributed.broadcast_from_main(np.int32(error is not None)))
        if error is not None:
            raise error
        if failed:
            raise RuntimeError(
                f"process 0 could not start or resume the run in {settings.run_dir}; "
                "its error says why."
            )
        state = share_state(state if main else start(model, key, settings), settings)
        return run_loop(state, settings)
