r"""Training: sharded, scanned `eqx.filter_jit` updates with EMA, checkpoints and
resume."""

import functools
import pathlib
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import ArrayLike

from . import _checkpoint as ckpt
from ._config import model_to_config
from ._custom_types import KeyArray
from ._loss import dsm_loss
from ._model import ScoreModel
from ._validation import check_in_interval, check_int, check_positive
from ._weighting import TIME_SAMPLINGS, AbstractWeighting, as_weighting
from .datasets import (
    AbstractDataset,
    AbstractLabelledDataset,
    ArrayDataset,
    LabelledArrayDataset,
)


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
    - `interrupted`: `True` when Ctrl-C stopped the run (a checkpoint was written
      first when `checkpoint_dir` was given).
    - `run_dir`: the run directory, or `None`.
    """

    model: ScoreModel
    ema_model: ScoreModel
    losses: np.ndarray
    step: int
    wall_time: float
    interrupted: bool = False
    run_dir: pathlib.Path | None = None


@functools.lru_cache(maxsize=32)
def default_optimizer(
    learning_rate: float,
    steps: int,
    warmup_steps: int,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
) -> optax.GradientTransformation:
    r"""The default optimiser of [`scoresde.train`][]: gradient clipping to global
    norm `max_grad_norm`, then AdamW whose learning rate rises linearly from 0
    over `warmup_steps` and decays by a cosine to 1% of `learning_rate` at
    `steps`."""
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=learning_rate,
        warmup_steps=warmup_steps,
        decay_steps=max(steps, warmup_steps + 1),
        end_value=0.01 * learning_rate,
    )
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        optax.adamw(schedule, weight_decay=weight_decay),
    )


def _trainable(model: ScoreModel):
    """Filter spec: the network's floating-point arrays (not the SDE's)."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(
        lambda m: m.net,
        spec,
        replace=jax.tree_util.tree_map(eqx.is_inexact_array, model.net),
    )


class _Static(eqx.Module):
    """Hashable settings of the scanned update (static under `filter_jit`)."""

    optimizer: Any = eqx.field(static=True)
    weighting: AbstractWeighting = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    t_eps: float = eqx.field(static=True)
    time_sampling: str = eqx.field(static=True)
    ema_decay: float = eqx.field(static=True)
    label_dropout: float = eqx.field(static=True)
    batch_sharding: Any = eqx.field(static=True)
    replicated: Any = eqx.field(static=True)


@eqx.filter_jit
def _run_chunk(state, frozen, dataset, base_key, start_step, num_steps, static):
    """`num_steps` updates in one `lax.scan`, from global step `start_step`. The
    key of step k is `fold_in(base_key, k)`: independent of how the steps are
    grouped into dispatches, so resuming reproduces an uninterrupted run."""

    def step_fn(carry, step):
        params, ema, opt_state = carry
        key_data, key_loss, key_drop = jax.random.split(
            jax.random.fold_in(base_key, step), 3
        )
        if isinstance(dataset, AbstractLabelledDataset) and frozen.net.num_classes:
            y0, labels = dataset.sample_with_labels(key_data, static.batch_size)
            if static.label_dropout > 0:
                drop = jax.random.uniform(key_drop, labels.shape) < static.label_dropout
                labels = jnp.where(drop, frozen.net.num_classes, labels)
            labels = jax.lax.with_sharding_constraint(labels, static.batch_sharding)
        else:
            y0, labels = dataset.sample(key_data, static.batch_size), None
        y0 = jax.lax.with_sharding_constraint(y0, static.batch_sharding)

        def loss_fn(p):
            model = eqx.combine(p, frozen)
            return dsm_loss(
                model,
                model.sde,
                key_loss,
                y0,
                static.weighting,
                t_eps=static.t_eps,
                labels=labels,
                time_sampling=static.time_sampling,
            )

        loss, grads = eqx.filter_value_and_grad(loss_fn)(params)
        # Optax's schedules mix Python floats with the int32 step count, which
        # strict dtype promotion (on in our tests) rejects; they are not ours.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = static.optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
        # EMA warm-up: the decay ramps up as (1 + k) / (10 + k), so that short runs
        # do not average in the random initialisation.
        k = step.astype(jnp.result_type(float))
        d = jnp.minimum(static.ema_decay, (1.0 + k) / (10.0 + k))
        ema = jax.tree_util.tree_map(lambda e, p: d * e + (1 - d) * p, ema, params)
        carry = eqx.filter_shard((params, ema, opt_state), static.replicated)
        return carry, loss

    steps = start_step + jnp.arange(num_steps)
    return jax.lax.scan(step_fn, state, steps)


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
    time_sampling: str = "iid",
    ema_decay: float = 0.999,
    steps_per_dispatch: int = 100,
    labels: ArrayLike | None = None,
    label_dropout: float = 0.0,
    checkpoint_dir: str | pathlib.Path | None = None,
    checkpoint_every: int | None = None,
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
    `eqx.filter_jit` call, so Python's overhead vanishes for small models.

    **Sharding.** The batch is split over the `"data"` axis of `mesh` (default:
    a 1-D mesh over all of `jax.devices()`) and the weights and optimiser
    state are replicated (`eqx.filter_shard`): plain data parallelism, the
    gradient's mean reduced across devices by XLA. Results equal a
    single-device run's up to float reassociation. Multi-host: call
    `jax.distributed.initialize()` first in every process and run the same
    script; `jax.devices()` then spans all hosts, and because each batch is
    sampled inside the compiled step under the batch sharding, each process
    materialises only its local part of the batch (every process must
    construct the same `data`).

    **Checkpoints.** With `checkpoint_dir`, the run directory holds
    `config.json` (the model's skeleton — network kind and sizes, SDE and its
    parameters, parameterisation, data shape, `data_std` — and the training
    settings), `losses.npy`, and `checkpoint.eqx` (model, EMA, optimiser state,
    step and PRNG key, via `eqx.tree_serialise_leaves`, with a checksum), each
    written atomically every `checkpoint_every` steps and at the end. If the
    directory already holds a checkpoint and `resume=True`, training continues
    from it up to `steps` in total, exactly as if never interrupted (same
    device count and settings). Ctrl-C writes a checkpoint and returns the
    result so far (`interrupted=True`). Reload with [`scoresde.load`][].

    **Arguments:**

    - `model`: the [`scoresde.ScoreModel`][] to train (its SDE is the one used).
    - `data`: an [`scoresde.datasets.AbstractDataset`][] or an array
      `(n, *shape)` of your own data (wrapped in
      [`scoresde.datasets.ArrayDataset`][]).
    - `key`: a PRNG key.
    - `steps`: the total number of updates (counting resumed ones).
    - `batch_size`: examples per update (divisible by the number of devices).
    - `optimizer`: any `optax.GradientTransformation`; default
      [`scoresde.default_optimizer`][] (AdamW, warm-up, cosine decay, clipping).
    - `learning_rate`, `warmup_steps`: of the default optimiser
      (warm-up defaults to `min(1000, steps // 10)`).
    - `weighting`, `t_eps`, `time_sampling`: passed to [`scoresde.dsm_loss`][].
    - `ema_decay`: $d$ in $[0, 1)$ (default 0.999).
    - `steps_per_dispatch`: updates per compiled call (default 100).
    - `labels`: integer labels `(n,)` for an array `data` and a class-conditional
      network (datasets with `sample_with_labels`, such as digits, supply their
      own).
    - `label_dropout`: probability of replacing a label by the null label, for
      classifier-free guidance (default 0).
    - `checkpoint_dir`, `checkpoint_every`, `resume`: see above.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis (default: all devices).
    - `progress`: show a tqdm bar with the loss and steps/s.
    - `callback`: called as `callback(step, losses_of_dispatch)` after each
      dispatch; raising `KeyboardInterrupt` in it stops like Ctrl-C.

    **Returns:**

    A [`scoresde.TrainResult`][].

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
    if not isinstance(model, ScoreModel):
        raise TypeError(
            f"`model` must be a scoresde.ScoreModel, got {type(model).__name__}."
        )
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    steps_per_dispatch = check_int("steps_per_dispatch", steps_per_dispatch, minimum=1)
    check_in_interval("ema_decay", ema_decay, 0.0, 1.0, high_open=True)
    check_in_interval("label_dropout", label_dropout, 0.0, 1.0, high_open=True)
    check_in_interval("t_eps", t_eps, 0.0, model.sde.T, low_open=True, high_open=True)
    if time_sampling not in TIME_SAMPLINGS:
        raise ValueError(
            f"`time_sampling` must be one of {TIME_SAMPLINGS}, got {time_sampling!r}."
        )
    weighting_obj = as_weighting(weighting, model.data_std)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
        if checkpoint_dir is None:
            raise ValueError("`checkpoint_every` needs a `checkpoint_dir`.")
    if warmup_steps is None:
        warmup_steps = min(1000, steps // 10)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    custom_optimizer = optimizer is not None
    if optimizer is None:
        check_positive("learning_rate", learning_rate)
        optimizer = default_optimizer(float(learning_rate), steps, warmup_steps)
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`optimizer` must be an optax.GradientTransformation, got "
            f"{type(optimizer).__name__}."
        )
    dataset = _as_dataset(data, labels, model)
    if tuple(dataset.shape) != tuple(model.data_shape):
        raise ValueError(
            f"`data` has samples of shape {tuple(dataset.shape)}, but the model's "
            f"network expects {tuple(model.data_shape)}."
        )
    if mesh is None:
        mesh = Mesh(np.asarray(jax.devices()), ("data",))
    if not isinstance(mesh, Mesh) or "data" not in mesh.axis_names:
        raise ValueError("`mesh` must be a jax.sharding.Mesh with a 'data' axis.")
    num_shards = mesh.shape["data"]
    if batch_size % num_shards:
        raise ValueError(
            f"`batch_size`={batch_size} must be divisible by the number of devices "
            f"on the mesh's 'data' axis ({num_shards})."
        )
    replicated = NamedSharding(mesh, PartitionSpec())
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
    base_key = _as_key(key)

    spec = _trainable(model)
    params, frozen = eqx.partition(model, spec)
    ema = params
    opt_state = optimizer.init(params)
    step = 0
    losses: list[np.ndarray] = []

    run_dir = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir)
    config = {
        "format": 1,
        "model": model_to_config(model),
        "data_shape": list(model.data_shape),
        "training": {
            "steps": steps,
            "batch_size": batch_size,
            "optimizer": "custom" if custom_optimizer else "default",
            "learning_rate": float(learning_rate),
            "warmup_steps": warmup_steps,
            "weighting": weighting
            if isinstance(weighting, str)
            else repr(weighting_obj),
            "t_eps": float(t_eps),
            "time_sampling": time_sampling,
            "ema_decay": float(ema_decay),
            "steps_per_dispatch": steps_per_dispatch,
            "label_dropout": float(label_dropout),
            "num_devices": int(num_shards),
        },
    }
    if run_dir is not None:
        if ckpt.checkpoint_exists(run_dir):
            if not resume:
                raise ValueError(
                    f"{run_dir / ckpt.CHECKPOINT_FILE} exists; pass resume=True to "
                    "continue that run, or choose another `checkpoint_dir`."
                )
            saved = ckpt.read_config(run_dir)
            if saved["model"] != config["model"]:
                raise ValueError(
                    f"{run_dir / ckpt.CONFIG_FILE} describes a different model "
                    f"({saved['model']}) than the one passed ({config['model']})."
                )
            meta, saved_model, saved_ema, opt_state = ckpt.read_checkpoint(
                run_dir, (_meta_like(), model, model, opt_state)
            )
            step = int(meta["step"])
            base_key = ckpt.key_from_data(meta["key"])
            params = eqx.filter(saved_model, spec)
            ema = eqx.filter(saved_ema, spec)
            losses = [ckpt.read_losses(run_dir, step)]
        ckpt.write_config(run_dir, config)

    state = eqx.filter_shard((params, ema, opt_state), replicated)
    frozen = eqx.filter_shard(frozen, replicated)
    dataset = eqx.filter_shard(dataset, replicated)
    static = _Static(
        optimizer,
        weighting_obj,
        batch_size,
        float(t_eps),
        time_sampling,
        float(ema_decay),
        float(label_dropout),
        batch_sharding,
        replicated,
    )

    def save(current):
        state_, step_, losses_ = current
        params_, ema_, opt_state_ = state_
        ckpt.write_losses(run_dir, np.concatenate(losses_) if losses_ else np.zeros(0))
        meta = {
            "step": np.asarray(step_, np.int64),
            "key": ckpt.key_to_data(base_key),
        }
        ckpt.write_checkpoint(
            run_dir,
            (meta, eqx.combine(params_, frozen), eqx.combine(ema_, frozen), opt_state_),
        )

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=step, desc="train", unit="step")
    current = (state, step, losses)
    saved_step = step if run_dir is not None and ckpt.checkpoint_exists(run_dir) else -1
    interrupted = False
    try:
        while current[1] < steps:
            state, step, losses = current
            n = min(steps_per_dispatch, steps - step)
            if checkpoint_every is not None:
                n = min(n, checkpoint_every - step % checkpoint_every)
            tick = time.perf_counter()
            new_state, chunk_losses = _run_chunk(
                state, frozen, dataset, base_key, jnp.asarray(step), n, static
            )
            chunk_losses = np.asarray(chunk_losses)  # waits for the device
            elapsed = time.perf_counter() - tick
            current = (new_state, step + n, losses + [chunk_losses])
            if bar is not None:
                bar.update(n)
                bar.set_postfix(
                    loss=f"{chunk_losses.mean():.4g}", steps_s=f"{n / elapsed:.1f}"
                )
            if run_dir is not None and (
                current[1] == steps
                or (checkpoint_every is not None and current[1] % checkpoint_every == 0)
            ):
                save(current)
                saved_step = current[1]
            if callback is not None:
                callback(current[1], chunk_losses)
    except KeyboardInterrupt:
        interrupted = True
        if bar is not None:
            bar.write(f"Interrupted at step {current[1]}.")
    finally:
        if bar is not None:
            bar.close()
    if run_dir is not None and saved_step != current[1]:
        save(current)
    if interrupted and run_dir is not None:
        print(
            f"Checkpoint at step {current[1]} written to {run_dir}; call train again "
            "with the same arguments to resume."
        )
    (params, ema, _), step, losses = current
    return TrainResult(
        model=eqx.combine(params, frozen),
        ema_model=eqx.combine(ema, frozen),
        losses=np.concatenate(losses) if losses else np.zeros(0, np.float32),
        step=step,
        wall_time=time.perf_counter() - start_time,
        interrupted=interrupted,
        run_dir=run_dir,
    )


def _meta_like():
    return {"step": np.zeros((), np.int64), "key": np.zeros((2,), np.uint32)}


def _as_key(key):
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"`key` must be a single PRNG key, got shape {key.shape}.")
        return key
    if key.dtype == jnp.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        "`key` must be a PRNG key (jax.random.key(seed)), got an array of dtype "
        f"{key.dtype} and shape {key.shape}."
    )


def _as_dataset(data, labels, model):
    conditional = model.net.num_classes is not None
    if isinstance(data, AbstractDataset):
        if labels is not None:
            raise ValueError(
                "`labels` is only for array `data`; a dataset supplies its own "
                "through `sample_with_labels`."
            )
        if conditional and not isinstance(data, AbstractLabelledDataset):
            raise ValueError(
                "The network is class-conditional (`num_classes` set) but `data` "
                f"({type(data).__name__}) has no labels: pass an array and `labels`."
            )
        return data
    dataset = ArrayDataset(data)
    if labels is None:
        if conditional:
            raise ValueError(
                "The network is class-conditional (`num_classes` set): pass "
                "`labels`, integer class labels of shape (n,)."
            )
        return dataset
    if not conditional:
        raise ValueError("`labels` given but the network has no `num_classes`.")
    return LabelledArrayDataset(dataset.data, labels, model.net.num_classes)
