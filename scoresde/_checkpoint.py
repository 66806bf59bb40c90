"""Run directories: `config.json`, `losses.npy` and `checkpoint.eqx`, each written
atomically (temporary file, fsync, rename), so that a kill at any moment leaves the
last good checkpoint in place."""

import hashlib
import io
import json
import os
import pathlib
import tempfile
from typing import Any

import equinox as eqx
import jax
import numpy as np


CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.eqx"
LOSSES_FILE = "losses.npy"
_MAGIC = b"scoresde-checkpoint-v1\n"


class CheckpointError(RuntimeError):
    """A run directory's file is missing, truncated or corrupted. The message
    names the file."""


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass


def write_config(run_dir: pathlib.Path, config: dict[str, Any]) -> None:
    data = json.dumps(config, indent=2, sort_keys=True).encode()
    _atomic_write(run_dir / CONFIG_FILE, data)


def read_config(run_dir: pathlib.Path) -> dict[str, Any]:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"Missing run config {path}: not a scoresde run directory?"
        )
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"Corrupted run config {path}: {e}") from e
    if not isinstance(config, dict) or "model" not in config:
        raise CheckpointError(f"Corrupted run config {path}: no 'model' entry.")
    return config


def write_losses(run_dir: pathlib.Path, losses: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(losses, np.float32))
    _atomic_write(run_dir / LOSSES_FILE, buffer.getvalue())


def read_losses(run_dir: pathlib.Path, step: int) -> np.ndarray:
    path = run_dir / LOSSES_FILE
    if not path.is_file():
        raise CheckpointError(f"Missing loss history {path}.")
    try:
        losses = np.load(path)
    except Exception as e:
        raise CheckpointError(f"Corrupted loss history {path}: {e}") from e
    if losses.shape[0] < step:
        raise CheckpointError(
            f"Loss history {path} has {losses.shape[0]} entries, the checkpoint is "
            f"at step {step}."
        )
    # The history is written before the checkpoint; it may run ahead of it.
    return losses[:step]


def write_checkpoint(run_dir: pathlib.Path, tree: Any) -> None:
    """Serialise `tree`'s leaves with `eqx.tree_serialise_leaves`, prefixed by a
    SHA-256 of the body, and write atomically."""
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree)
    body = buffer.getvalue()
    digest = hashlib.sha256(body).hexdigest().encode()
    _atomic_write(run_dir / CHECKPOINT_FILE, _MAGIC + digest + b"\n" + body)


def checkpoint_exists(run_dir: pathlib.Path) -> bool:
    return (run_dir / CHECKPOINT_FILE).is_file()


def read_checkpoint(run_dir: pathlib.Path, like: Any) -> Any:
    """Deserialise a prefix of the checkpoint's leaves into the skeleton `like`
    (the leaves are stored in order, so a prefix needs no optimiser skeleton)."""
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        raise CheckpointError(f"Missing checkpoint {path}.")
    raw = path.read_bytes()
    if not raw.startswith(_MAGIC):
        raise CheckpointError(
            f"Corrupted checkpoint {path}: not a scoresde checkpoint."
        )
    header_end = raw.find(b"\n", len(_MAGIC))
    digest, body = raw[len(_MAGIC) : header_end], raw[header_end + 1 :]
    if header_end < 0 or hashlib.sha256(body).hexdigest().encode() != digest:
        raise CheckpointError(
            f"Corrupted checkpoint {path}: its checksum does not match (truncated or "
            "damaged file)."
        )
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(body), like)
    except Exception as e:
        raise CheckpointError(
            f"Checkpoint {path} does not fit the model described by its config: {e}"
        ) from e


def key_to_data(key: Any) -> np.ndarray:
    return np.asarray(jax.random.key_data(key))


def key_from_data(data: Any) -> Any:
    return jax.random.wrap_key_data(np.asarray(data, np.uint32))
