"""Setting up a training run: check the arguments and build the loop's settings
once (`build_settings`), then start afresh or resume from the run directory
(`start_or_resume`)."""

import functools
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import _rundir
from ._model import ScoreModel
from ._time_sampling import AbstractTimeSampling, time_sampling_name
from ._train_loop import LoopState, Settings, Update, default_steps_per_dispatch
from ._validation import check_in_interval, check_int, check_positive
from ._weighting import as_weighting
from .datasets import (
    AbstractDataset,
    AbstractLabelledDataset,
    ArrayDataset,
    LabelledArrayDataset,
)


def _trainable(model: ScoreModel):
    """Filter spec: the network's floating-point arrays (not the SDE's)."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(
        lambda m: m.net,
        spec,
        replace=jax.tree_util.tree_map(eqx.is_inexact_array, model.net),
    )


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
    check_positive("learning_rate", learning_rate)
    steps = check_int("steps", steps, minimum=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    check_in_interval("weight_decay", weight_decay, 0.0, float("inf"))
    check_positive("max_grad_norm", max_grad_norm)
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


def _checked(model, data, kw) -> dict:
    """Check every argument at the boundary; return them normalised."""
    if not isinstance(model, ScoreModel):
        raise TypeError(
            f"`model` must be a scoresde.ScoreModel, got {type(model).__name__}."
        )
    out = dict(kw)
    if kw["steps_per_dispatch"] is None:
        out["steps_per_dispatch"] = kw["steps_per_dispatch"] = (
            default_steps_per_dispatch(model)
        )
    for name in ("steps", "batch_size", "steps_per_dispatch"):
        out[name] = check_int(name, kw[name], minimum=1)
    check_in_interval("ema_decay", kw["ema_decay"], 0.0, 1.0, high_open=True)
    check_in_interval("label_dropout", kw["label_dropout"], 0.0, 1.0, high_open=True)
    check_in_interval(
        "t_eps", kw["t_eps"], 0.0, model.sde.T, low_open=True, high_open=True
    )
    if not isinstance(kw["time_sampling"], AbstractTimeSampling):
        raise TypeError(
            "`time_sampling` must be a time-sampling object: ss.IIDTimes(), "
            f"ss.StratifiedTimes() or ss.AntitheticTimes(); got {kw['time_sampling']!r}."
        )
    if kw["checkpoint_dir"] is not None:
        out["checkpoint_dir"] = pathlib.Path(kw["checkpoint_dir"])
    if kw["checkpoint_every"] is not None:
        out["checkpoint_every"] = check_int(
            "checkpoint_every", kw["checkpoint_every"], minimum=1
        )
        if kw["checkpoint_dir"] is None:
            raise ValueError("`checkpoint_every` needs a `checkpoint_dir`.")
    if kw["checkpoint_seconds"] is not None:
        check_positive("checkpoint_seconds", kw["checkpoint_seconds"])
        out["checkpoint_seconds"] = float(kw["checkpoint_seconds"])
    warmup = kw["warmup_steps"]
    warmup = min(1000, out["steps"] // 10) if warmup is None else warmup
    out["warmup_steps"] = check_int("warmup_steps", warmup, minimum=0)
    if kw["optimizer"] is None:
        check_positive("learning_rate", kw["learning_rate"])
    elif not isinstance(kw["optimizer"], optax.GradientTransformation):
        raise TypeError(
            "`optimizer` must be an optax.GradientTransformation, got "
            f"{type(kw['optimizer']).__name__}."
        )
    out["dataset"] = _as_dataset(data, kw["labels"], model)
    if tuple(out["dataset"].shape) != tuple(model.data_shape):
        raise ValueError(
            f"`data` has samples of shape {tuple(out['dataset'].shape)}, but the "
            f"model's network expects {tuple(model.data_shape)}."
        )
    mesh = kw["mesh"]
    out["mesh"] = Mesh(np.asarray(jax.devices()), ("data",)) if mesh is None else mesh
    if not isinstance(out["mesh"], Mesh) or "data" not in out["mesh"].axis_names:
        raise ValueError("`mesh` must be a jax.sharding.Mesh with a 'data' axis.")
    if out["batch_size"] % out["mesh"].shape["data"]:
        raise ValueError(
            f"`batch_size`={out['batch_size']} must be divisible by the number of "
            f"devices on the mesh's 'data' axis ({out['mesh'].shape['data']})."
        )
    return out


def build_settings(model: ScoreModel, data, **kw) -> Settings:
    """Check the arguments of [`scoresde.train`][] and build the loop's settings
    once: the optimiser, the weighting, the shardings and the run's config."""
    kw = _checked(model, data, kw)
    optimizer = kw["optimizer"]
    if optimizer is None:
        optimizer = default_optimizer(
            float(kw["learning_rate"]), kw["steps"], kw["warmup_steps"]
        )
    weighting = as_weighting(kw["weighting"], model.data_std)
    replicated = NamedSharding(kw["mesh"], PartitionSpec())
    update = Update(
        optimizer=optimizer,
        weighting=weighting,
        batch_size=kw["batch_size"],
        t_eps=float(kw["t_eps"]),
        time_sampling=kw["time_sampling"],
        ema_decay=float(kw["ema_decay"]),
        label_dropout=float(kw["label_dropout"]),
        batch_sharding=NamedSharding(kw["mesh"], PartitionSpec("data")),
        replicated=replicated,
    )
    training = {
        "optimizer": "default" if kw["optimizer"] is None else "custom",
        "weighting": kw["weighting"]
        if isinstance(kw["weighting"], str)
        else repr(weighting),
        "num_devices": int(kw["mesh"].shape["data"]),
        "num_processes": jax.process_count(),
    }
    for name in ("steps", "batch_size", "warmup_steps", "steps_per_dispatch"):
        training[name] = kw[name]
    for name in ("learning_rate", "t_eps", "ema_decay", "label_dropout"):
        training[name] = float(kw[name])
    training["time_sampling"] = time_sampling_name(kw["time_sampling"])
    return Settings(
        update=update,
        dataset=eqx.filter_shard(kw["dataset"], replicated),
        steps=kw["steps"],
        steps_per_dispatch=kw["steps_per_dispatch"],
        checkpoint_every=kw["checkpoint_every"],
        checkpoint_seconds=kw["checkpoint_seconds"],
        run_dir=kw["checkpoint_dir"],
        config=_rundir.make_config(model, dict(sorted(training.items()))),
        # Several processes: process 0 alone shows progress.
        progress=bool(kw["progress"]) and jax.process_index() == 0,
        callback=kw["callback"],
    )


def start(model: ScoreModel, key, settings: Settings) -> LoopState:
    """A fresh run: step 0, the EMA equal to the weights."""
    params, frozen = eqx.partition(model, _trainable(model))
    replicated = settings.update.replicated
    params = eqx.filter_shard(params, replicated)
    return LoopState(
        params=params,
        ema=params,
        opt_state=eqx.filter_shard(settings.update.optimizer.init(params), replicated),
        frozen=eqx.filter_shard(frozen, replicated),
        key=_as_key(key),
        step=0,
        losses=(),
        checkpoint_step=None,
    )


def start_or_resume(model, key, settings: Settings, resume: bool) -> LoopState:
    """Resume from the run directory's newest complete checkpoint (a damaged one
    falls back to the previous, with a warning), or start afresh; then (re)write
    `config.json`. Holds the run directory's lock."""
    state = start(model, key, settings)
    run_dir = settings.run_dir
    if _rundir.checkpoint_exists(run_dir):
        if not resume:
            raise ValueError(
                f"{run_dir / _rundir.CHECKPOINT_FILE} exists; pass resume=True to "
                "continue that run, or choose another `checkpoint_dir`."
            )
        spec = _trainable(model)
        saved = _rundir.read_checkpoint(
            run_dir, (model, model, state.opt_state), fall_back=True
        )
        _rundir.check_resumable(run_dir, settings.config, saved)
        saved_model, saved_ema, opt_state = saved.tree
        replicated = settings.update.replicated
        state = LoopState(
            params=eqx.filter_shard(eqx.filter(saved_model, spec), replicated),
            ema=eqx.filter_shard(eqx.filter(saved_ema, spec), replicated),
            opt_state=eqx.filter_shard(opt_state, replicated),
            frozen=state.frozen,
            key=saved.key,
            step=saved.step,
            losses=(saved.losses,),
            checkpoint_step=saved.step,
        )
    _rundir.write_config(run_dir, settings.config)
    return state


def share_state(state: LoopState, settings: Settings) -> LoopState:
    """Process 0's loop state on every process (several processes: process 0
    alone reads the run directory); the identity with one process."""
    if jax.process_count() == 1:
        return state
    from . import _distributed

    step = int(_distributed.broadcast_from_main(np.int32(state.step)))
    losses = state.all_losses() if state.step == step else np.zeros(step, np.float32)
    arrays = eqx.filter((state.params, state.ema, state.opt_state), eqx.is_array)
    arrays = jax.tree_util.tree_map(np.asarray, arrays)
    key_data = np.asarray(jax.random.key_data(state.key))
    arrays, key_data, losses = _distributed.broadcast_from_main(
        (arrays, key_data, np.asarray(losses, np.float32))
    )
    arrays = eqx.filter_shard(
        jax.tree_util.tree_map(np.asarray, arrays), settings.update.replicated
    )
    _, static = eqx.partition((state.params, state.ema, state.opt_state), eqx.is_array)
    params, ema, opt_state = eqx.combine(arrays, static)
    return LoopState(
        params=params,
        ema=ema,
        opt_state=opt_state,
        frozen=state.frozen,
        key=jax.random.wrap_key_data(np.asarray(key_data)),
        step=step,
        losses=(np.asarray(losses),) if step else (),
        checkpoint_step=step if step else None,
    )


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
