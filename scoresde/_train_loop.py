r"""The training loop: the compiled update (`lax.scan` of `eqx.filter_jit` steps),
and the Python loop around it that checkpoints, reports progress and stops on
Ctrl-C, SIGTERM or a non-finite loss. It receives everything ready-made from
[`scoresde.train`][]."""

import contextlib
import dataclasses
import pathlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import _rundir
from ._distributed import any_process
from ._loss import dsm_loss
from ._time_sampling import AbstractTimeSampling
from ._weighting import AbstractWeighting
from .datasets import AbstractDataset, AbstractLabelledDataset


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """Training met a non-finite loss (or non-finite weights after an update).

    Raised at the first such step, which the message names; the run directory then
    holds a checkpoint of the last finite state (never one with NaNs). A
    `FloatingPointError` and a `RuntimeError`.

    **Attributes:** `step` (the first bad step, 0-based), `loss` (its value),
    `checkpoint_step` (the step of the run directory's newest checkpoint, or
    `None`), `run_dir`.
    """

    def __init__(self, message: str, step: int, loss: float, checkpoint_step, run_dir):
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.checkpoint_step = checkpoint_step
        self.run_dir = run_dir


class Update(eqx.Module):
    """Hashable settings of the compiled update (static under `filter_jit`)."""

    optimizer: Any = eqx.field(static=True)
    weighting: AbstractWeighting = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    t_eps: float = eqx.field(static=True)
    time_sampling: AbstractTimeSampling = eqx.field(static=True)
    ema_decay: float = eqx.field(static=True)
    label_dropout: float = eqx.field(static=True)
    batch_sharding: Any = eqx.field(static=True)
    replicated: Any = eqx.field(static=True)


class Settings(eqx.Module):
    """Everything the loop needs, validated and built once by `ss.train`."""

    update: Update
    dataset: AbstractDataset
    steps: int
    steps_per_dispatch: int
    checkpoint_every: int | None
    checkpoint_seconds: float | None
    run_dir: pathlib.Path | None
    config: dict[str, Any]
    progress: bool
    callback: Callable[[int, np.ndarray], Any] | None


class LoopState(eqx.Module):
    """The loop's state between dispatches. `frozen` (the untrained part of the
    model: SDE, static fields) and `key` (the base PRNG key) never change."""

    params: Any
    ema: Any
    opt_state: Any
    frozen: Any
    key: Any
    step: int
    losses: tuple[np.ndarray, ...]
    checkpoint_step: int | None

    def all_losses(self) -> np.ndarray:
        return np.concatenate(self.losses) if self.losses else np.zeros(0, np.float32)


def _all_finite(tree) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


@eqx.filter_jit
def _run_chunk(carry, frozen, dataset, base_key, start_step, num_steps, update):
    """`num_steps` updates in one `lax.scan`, from global step `start_step`. The
    key of step k is `fold_in(base_key, k)`: independent of how the steps are
    grouped into dispatches, so resuming reproduces an uninterrupted run. From the
    first step whose loss or new state is non-finite on, the state is frozen at
    the last finite one and the step is flagged."""

    def step_fn(scan_carry, step):
        (params, ema, opt_state), stopped = scan_carry
        key_data, key_loss, key_drop = jax.random.split(
            jax.random.fold_in(base_key, step), 3
        )
        if isinstance(dataset, AbstractLabelledDataset) and frozen.net.num_classes:
            y0, labels = dataset.sample_with_labels(key_data, update.batch_size)
            if update.label_dropout > 0:
                drop = jax.random.uniform(key_drop, labels.shape) < update.label_dropout
                labels = jnp.where(drop, frozen.net.num_classes, labels)
            labels = jax.lax.with_sharding_constraint(labels, update.batch_sharding)
        else:
            y0, labels = dataset.sample(key_data, update.batch_size), None
        y0 = jax.lax.with_sharding_constraint(y0, update.batch_sharding)

        def loss_fn(p):
            model = eqx.combine(p, frozen)
            return dsm_loss(
                model,
                model.sde,
                key_loss,
                y0,
                update.weighting,
                t_eps=update.t_eps,
                labels=labels,
                time_sampling=update.time_sampling,
            )

        loss, grads = eqx.filter_value_and_grad(loss_fn)(params)
        # Optax's schedules mix Python floats with the int32 step count, which
        # strict dtype promotion (on in our tests) rejects; they are not ours.
        with jax.numpy_dtype_promotion("standard"):
            updates, new_opt_state = update.optimizer.update(grads, opt_state, params)
        new_params = eqx.apply_updates(params, updates)
        # EMA warm-up: the decay ramps up as (1 + k) / (10 + k), so that short runs
        # do not average in the random initialisation.
        k = step.astype(jnp.result_type(float))
        d = jnp.minimum(update.ema_decay, (1.0 + k) / (10.0 + k))
        new_ema = jax.tree_util.tree_map(
            lambda e, p: d * e + (1 - d) * p, ema, new_params
        )
        new = (new_params, new_ema, new_opt_state)
        ok = jnp.isfinite(loss) & _all_finite(new) & ~stopped
        new = jax.tree_util.tree_map(
            lambda n, o: jnp.where(ok, n, o), new, (params, ema, opt_state)
        )
        new = eqx.filter_shard(new, update.replicated)
        return (new, ~ok), (loss, ~ok)

    steps = start_step + jnp.arange(num_steps)
    if num_steps == 1:
        # No loop at all: XLA:CPU runs a convolution inside a while loop with a
        # generic kernel, ten or more times slower than the same step alone.
        out, per_step = step_fn((carry, jnp.asarray(False)), steps[0])
        return out, jax.tree_util.tree_map(lambda x: x[None], per_step)
    return jax.lax.scan(step_fn, (carry, jnp.asarray(False)), steps)


def has_convolution(model) -> bool:
    """Whether `model` holds an `eqx.nn.Conv` layer (the UNet does)."""
    leaves = jax.tree_util.tree_leaves(
        model, is_leaf=lambda x: isinstance(x, eqx.nn.Conv)
    )
    return any(isinstance(x, eqx.nn.Conv) for x in leaves)


def default_steps_per_dispatch(model) -> int:
    """100 updates per compiled call, except for convolutional networks on the
    CPU: there one update per call, because XLA:CPU runs convolutions inside a
    compiled loop (`lax.scan`) with a generic kernel, measured 10-25x slower than
    the same update dispatched alone, while Python's overhead per call (about a
    millisecond) is small next to a convolutional step."""
    if has_convolution(model) and jax.default_backend() == "cpu":
        return 1
    return 100


@contextlib.contextmanager
def _sigterm_requests() -> Iterator[dict[str, bool]]:
    """While training, SIGTERM (a scheduler's polite stop) sets a flag that the
    loop reads after each dispatch; the previous handler is restored after."""
    flag = {"requested": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["requested"] = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


def _save(state: LoopState, settings: Settings) -> LoopState:
    if settings.run_dir is None or state.checkpoint_step == state.step:
        return state
    if jax.process_index() == 0:  # several processes: process 0 alone writes
        _write(state, settings)
    return dataclasses.replace(state, checkpoint_step=state.step)


def _write(state: LoopState, settings: Settings) -> None:
    _rundir.write_checkpoint(
        settings.run_dir,
        step=state.step,
        key=state.key,
        losses=state.all_losses(),
        config=settings.config,
        tree=(
            eqx.combine(state.params, state.frozen),
            eqx.combine(state.ema, state.frozen),
            state.opt_state,
        ),
    )


def _dispatch_size(step: int, settings: Settings) -> int:
    """Steps in the next dispatch. Dispatches end at multiples of
    `steps_per_dispatch` and `checkpoint_every` (functions of the global step
    only), so an interrupted and resumed run runs the same compiled chunks."""
    spd = settings.steps_per_dispatch
    n = min(spd - step % spd, settings.steps - step)
    if settings.checkpoint_every is not None:
        n = min(n, settings.checkpoint_every - step % settings.checkpoint_every)
    return n


def _dispatch(state: LoopState, settings: Settings) -> tuple[LoopState, np.ndarray]:
    """One compiled dispatch; raises `NonFiniteLossError` after saving the last
    finite state."""
    n = _dispatch_size(state.step, settings)
    (carry, _), (losses, bad) = _run_chunk(
        (state.params, state.ema, state.opt_state),
        state.frozen,
        settings.dataset,
        state.key,
        jnp.asarray(state.step),
        n,
        settings.update,
    )
    losses, bad = np.asarray(losses), np.asarray(bad)  # waits for the device
    good = int(np.argmax(bad)) if bad.any() else n
    state = LoopState(
        *carry,
        frozen=state.frozen,
        key=state.key,
        step=state.step + good,
        losses=(*state.losses, losses[:good]),
        checkpoint_step=state.checkpoint_step,
    )
    if good < n:
        state = _save(state, settings)
        what = "loss" if not np.isfinite(losses[good]) else "weights after the update"
        where = (
            f"; {settings.run_dir} keeps a checkpoint of the last finite state "
            f"(step {state.checkpoint_step})"
            if settings.run_dir is not None
            else ""
        )
        raise NonFiniteLossError(
            f"Non-finite {what} at step {state.step} (loss {losses[good]}): training "
            f"stopped{where}. Lower the learning rate or check the data.",
            step=state.step,
            loss=float(losses[good]),
            checkpoint_step=state.checkpoint_step,
            run_dir=settings.run_dir,
        )
    return state, losses


def run_loop(state: LoopState, settings: Settings) -> tuple[LoopState, str | None]:
    """Dispatch until `settings.steps`, checkpointing every `checkpoint_every`
    steps or `checkpoint_seconds` of wall time (whichever first) and at the end.
    Returns the final state and what interrupted it (`"SIGINT"` for Ctrl-C or a
    `KeyboardInterrupt` from the callback, `"SIGTERM"`, or `None`); a checkpoint
    is written before returning either way."""
    bar = None
    if settings.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.steps, initial=state.step, desc="train", unit="step")
    interrupted_by = None
    last_save = time.monotonic()
    try:
        with _sigterm_requests() as sigterm:
            while state.step < settings.steps and not any_process(sigterm):
                tick = time.perf_counter()
                state, chunk_losses = _dispatch(state, settings)
                elapsed = time.perf_counter() - tick
                if bar is not None:
                    bar.update(len(chunk_losses))
                    bar.set_postfix(
                        loss=f"{chunk_losses.mean():.4g}",
                        steps_s=f"{len(chunk_losses) / elapsed:.1f}",
                    )
                every = settings.checkpoint_every
                seconds = settings.checkpoint_seconds
                if (
                    state.step == settings.steps
                    or (every is not None and state.step % every == 0)
                    or (seconds is not None and time.monotonic() - last_save >= seconds)
                ):
                    state = _save(state, settings)
                    last_save = time.monotonic()
                if settings.callback is not None:
                    settings.callback(state.step, chunk_losses)
            if sigterm["requested"]:
                interrupted_by = "SIGTERM"
    except KeyboardInterrupt:
        interrupted_by = "SIGINT"
    finally:
        if bar is not None:
            bar.close()
    return _save(state, settings), interrupted_by
