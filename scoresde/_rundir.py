r"""The run directory: its files, their format, and how they are written and read.

A run directory written by [`scoresde.train`][] holds

- `config.json`: the model's skeleton and the training settings (and, from the
  command line, where the data came from: `"source"`);
- `checkpoint.eqx`: the newest checkpoint, and `checkpoint.prev.eqx`, the one
  before it;
- `losses.npy`: the loss of every step up to the newest checkpoint (an export
  for plotting: the checkpoint holds its own copy);
- `lock`: the writer's lock (`fcntl.flock`), naming its holder.

Every file is written to a temporary file, fsynced, renamed over the old one, and
the directory fsynced; the previous checkpoint is kept (as a hard link) until the
new one is durable. So a kill at any moment, SIGKILL included, leaves at least one
complete checkpoint. This module is the one place that knows these names and
formats; training, [`scoresde.load`][] and the command line go through it.
"""

import contextlib
import hashlib
import io
import json
import pathlib
import warnings
from typing import Any

import equinox as eqx
import jax
import numpy as np

from ._files import (
    RunDirectoryInUseError as RunDirectoryInUseError,
    atomic_write,
    lock as lock,
    make_run_dir as make_run_dir,
)


CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.eqx"
PREVIOUS_CHECKPOINT_FILE = "checkpoint.prev.eqx"
LOSSES_FILE = "losses.npy"
LOCK_FILE = "lock"  # written by _files.lock
LEGACY_SOURCE_FILE = "cli.json"  # written by the command line before config "source"
FORMAT = 2
_MAGIC_V1 = b"scoresde-checkpoint-v1\n"
_MAGIC = b"scoresde-checkpoint-v2\n"


class CheckpointError(RuntimeError, ValueError):
    """A file of a run directory is missing, truncated or corrupted, or does not
    fit the model. The message names the file and how to recover.

    It is both a `RuntimeError` (as before) and a `ValueError` (bad content), so
    `except ValueError` catches it together with other bad-input errors."""


# --------------------------------------------------------------------- writing
def write_config(run_dir: pathlib.Path, config: dict[str, Any]) -> None:
    """Write `config.json`, keeping the `"source"` recorded by the command line."""
    path = run_dir / CONFIG_FILE
    if "source" not in config and path.is_file():
        with contextlib.suppress(CheckpointError):
            source = read_source(run_dir)
            if source:
                config = {**config, "source": source}
    atomic_write(path, json.dumps(config, indent=2, sort_keys=True).encode())


def record_source(run_dir: str | pathlib.Path, source: dict[str, Any]) -> None:
    """Record where a run's data came from (e.g. `{"dataset": "digits", "shape":
    [1, 8, 8], "seed": 0}`) as the `"source"` entry of `config.json`. Called by the
    command line before training; training keeps it."""
    run_dir = pathlib.Path(run_dir)
    make_run_dir(run_dir)
    path = run_dir / CONFIG_FILE
    config: dict[str, Any] = {}
    if path.is_file():
        with contextlib.suppress(ValueError, UnicodeDecodeError, OSError):
            loaded = json.loads(path.read_text())
            config = loaded if isinstance(loaded, dict) else {}
    config["source"] = dict(source)
    atomic_write(path, json.dumps(config, indent=2, sort_keys=True).encode())


def read_source(run_dir: str | pathlib.Path) -> dict[str, Any]:
    """The `"source"` of a run (see `record_source`), also from older run
    directories' `cli.json`; `{}` when none was recorded or it is unreadable."""
    run_dir = pathlib.Path(run_dir)
    for name, field in ((CONFIG_FILE, "source"), (LEGACY_SOURCE_FILE, None)):
        try:
            loaded = json.loads((run_dir / name).read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(loaded, dict):
            found = loaded.get(field) if field else loaded
            if isinstance(found, dict):
                return found
    return {}


def write_checkpoint(
    run_dir: pathlib.Path,
    *,
    step: int,
    key: Any,
    losses: np.ndarray,
    config: dict[str, Any],
    tree: Any,
) -> None:
    """Write `losses.npy` (the export), then the checkpoint: the header (step,
    key, a copy of the config), the losses and `tree`'s leaves
    (`eqx.tree_serialise_leaves`), behind a SHA-256 checksum. The old checkpoint
    becomes `checkpoint.prev.eqx` only once the new one is complete on disk."""
    losses = np.asarray(losses, np.float32)
    if losses.shape != (step,):
        raise ValueError(f"{step} steps but {losses.shape} losses.")
    buffer = io.BytesIO()
    np.save(buffer, losses)
    atomic_write(run_dir / LOSSES_FILE, buffer.getvalue())
    header = {
        "step": int(step),
        "key": np.asarray(jax.random.key_data(key)).tolist(),
        "config": config,
    }
    body = io.BytesIO()
    body.write(json.dumps(header, sort_keys=True).encode() + b"\n")
    np.save(body, losses)
    eqx.tree_serialise_leaves(body, tree)
    data = body.getvalue()
    digest = hashlib.sha256(data).hexdigest().encode()
    atomic_write(
        run_dir / CHECKPOINT_FILE,
        _MAGIC + digest + b"\n" + data,
        keep_previous=PREVIOUS_CHECKPOINT_FILE,
    )


# --------------------------------------------------------------------- reading
def read_config(run_dir: pathlib.Path) -> dict[str, Any]:
    path = run_dir / CONFIG_FILE
    recover = (
        "; the checkpoint holds a copy: run `scoresde train` again with the same "
        "arguments (or ss.train with the same checkpoint_dir) to rewrite it"
        if checkpoint_exists(run_dir)
        else "; the directory holds no checkpoint either: train again"
    )
    if not path.is_file():
        raise CheckpointError(
            f"Missing run config {path}: not a scoresde run directory?"
        )
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"Corrupted run config {path} ({e}){recover}.") from e
    if not isinstance(config, dict):
        raise CheckpointError(
            f"Corrupted run config {path} (not a JSON object){recover}."
        )
    if "model" not in config:
        if not (run_dir / CHECKPOINT_FILE).is_file():
            raise CheckpointError(
                f"{run_dir} holds no checkpoint yet ({path} has no model)."
            )
        raise CheckpointError(
            f"Corrupted run config {path} (no 'model' entry){recover}."
        )
    return config


class Checkpoint(eqx.Module):
    """A checkpoint read back: `tree` in the skeleton it was read into."""

    step: int
    key: Any
    losses: np.ndarray
    config: dict[str, Any] | None
    tree: Any
    path: pathlib.Path


def checkpoint_exists(run_dir: pathlib.Path) -> bool:
    return any(
        (run_dir / n).is_file() for n in (CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE)
    )


def _open(path: pathlib.Path) -> tuple[bytes, bytes]:
    """(magic, body) of a checkpoint file, its checksum verified."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"Missing checkpoint {path}.") from None
    magic = next((m for m in (_MAGIC, _MAGIC_V1) if raw.startswith(m)), None)
    if magic is None:
        raise CheckpointError(
            f"Corrupted checkpoint {path}: not a scoresde checkpoint."
        )
    header_end = raw.find(b"\n", len(magic))
    digest, body = raw[len(magic) : header_end], raw[header_end + 1 :]
    if header_end < 0 or hashlib.sha256(body).hexdigest().encode() != digest:
        raise CheckpointError(
            f"Corrupted checkpoint {path}: its checksum does not match (truncated or "
            "damaged file)."
        )
    return magic, body


def read_checkpoint_file(path: pathlib.Path, like: Any) -> Checkpoint:
    """Read one checkpoint file into the skeleton `like` (a prefix of the saved
    leaves is enough: `(model, ema)` without the optimiser state)."""
    magic, body = _open(path)
    stream = io.BytesIO(body)
    try:
        if magic == _MAGIC_V1:  # format 1: meta dict first, losses in losses.npy
            meta_like = {
                "step": np.zeros((), np.int64),
                "key": np.zeros((2,), np.uint32),
            }
            meta, *tree = eqx.tree_deserialise_leaves(stream, (meta_like, *like))
            step, key, config = int(meta["step"]), meta["key"], None
            losses = _read_legacy_losses(path.parent, step)
        else:
            header = json.loads(stream.readline())
            step, key, config = header["step"], header["key"], header["config"]
            losses = np.load(stream, allow_pickle=False)
            tree = eqx.tree_deserialise_leaves(stream, like)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(
            f"Checkpoint {path} does not fit the model described by its config: {e}"
        ) from e
    return Checkpoint(
        step=step,
        key=jax.random.wrap_key_data(np.asarray(key, np.uint32)),
        losses=np.asarray(losses)[:step],
        config=config,
        tree=tuple(tree),
        path=path,
    )


def _read_legacy_losses(run_dir: pathlib.Path, step: int) -> np.ndarray:
    path = run_dir / LOSSES_FILE
    try:
        losses = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CheckpointError(f"Missing loss history {path}.") from None
    except Exception as e:
        raise CheckpointError(f"Corrupted loss history {path}: {e}") from e
    if losses.ndim != 1 or losses.shape[0] < step:
        raise CheckpointError(
            f"Loss history {path} has shape {losses.shape}, the checkpoint is at "
            f"step {step}."
        )
    return losses


def _describe_previous(
    run_dir: pathlib.Path, like: Any
) -> tuple[str, Checkpoint | None]:
    previous = run_dir / PREVIOUS_CHECKPOINT_FILE
    try:
        found = read_checkpoint_file(previous, like)
    except CheckpointError:
        return " No intact previous checkpoint is left.", None
    return (
        f" The previous checkpoint {previous} (step {found.step}) is intact: resume "
        f"training (it falls back to it), or rename it to {CHECKPOINT_FILE}.",
        found,
    )


def read_checkpoint(run_dir: pathlib.Path, like: Any, *, fall_back: bool) -> Checkpoint:
    """The newest complete checkpoint. With `fall_back`, a damaged
    `checkpoint.eqx` gives way (with a warning) to `checkpoint.prev.eqx`;
    without, it is a `CheckpointError` that says how to recover."""
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file() and (run_dir / PREVIOUS_CHECKPOINT_FILE).is_file():
        # Killed between keeping the previous checkpoint and renaming the new one
        # cannot happen (the link is made first), but a user may have moved it.
        return read_checkpoint_file(run_dir / PREVIOUS_CHECKPOINT_FILE, like)
    try:
        return read_checkpoint_file(path, like)
    except CheckpointError as e:
        if path.is_file():
            hint, previous = _describe_previous(run_dir, like)
        else:
            hint, previous = "", None
        if fall_back and previous is not None:
            warnings.warn(f"{e} Resuming from {previous.path} (step {previous.step}).")
            return previous
        raise CheckpointError(f"{e}{hint}") from e


def check_resumable(
    run_dir: pathlib.Path, config: dict[str, Any], saved: Checkpoint
) -> None:
    """Refuse to resume a run of a different model."""
    on_disk = None
    with contextlib.suppress(CheckpointError):
        on_disk = read_config(run_dir)
    reference = saved.config if saved.config is not None else on_disk
    if reference is None:
        raise CheckpointError(
            f"Corrupted run config {run_dir / CONFIG_FILE}, and the checkpoint holds "
            "no copy (format 1): restore it or train in a new directory."
        )
    if reference["model"] != config["model"]:
        raise ValueError(
            f"{run_dir / CONFIG_FILE} describes a different model "
            f"({reference['model']}) than the one passed ({config['model']})."
        )


# ------------------------------------------------------------- schema and load
def make_config(model: Any, training: dict[str, Any]) -> dict[str, Any]:
    """`config.json`'s content: the model's skeleton
    ([`scoresde.model_to_config`][]), its data shape and the training settings."""
    from ._config import model_to_config

    return {
        "format": FORMAT,
        "model": model_to_config(model),
        "data_shape": list(model.data_shape),
        "training": training,
    }


def read_run(run_dir: pathlib.Path) -> tuple[dict[str, Any], Checkpoint]:
    """What [`scoresde.load`][] needs: the config and the newest checkpoint read
    into `(model, ema_model)` built from the config. Every failure is one
    `CheckpointError` naming the file (or `FileNotFoundError` for the directory)."""
    from ._config import model_from_config

    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"Run directory {run_dir} does not exist (write one with ss.train(..., "
            "checkpoint_dir=...) or `scoresde train --out`)."
        )
    config = read_config(run_dir)
    try:
        # Shapes only: the weights come from the checkpoint, so none are drawn.
        skeleton = eqx.filter_eval_shape(model_from_config, config["model"])
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(
            f"Corrupted run config {run_dir / CONFIG_FILE}: {e}; rerun training with "
            "the same arguments to rewrite it."
        ) from e
    checkpoint = read_checkpoint(run_dir, (skeleton, skeleton), fall_back=False)
    saved = checkpoint.config
    # The model's description must match the checkpoint's copy (a damaged digit
    # in `data_std` would otherwise give a silently different model); the
    # training settings may differ (a resumed run rewrites them first).
    fields = ("model", "data_shape")
    if saved is not None and any(config.get(f) != saved.get(f) for f in fields):
        raise CheckpointError(
            f"Corrupted run config {run_dir / CONFIG_FILE}: it differs from the copy "
            f"in {checkpoint.path}; run training again with the same arguments to "
            "rewrite it."
        )
    return config, checkpoint
