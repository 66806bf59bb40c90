"""Loading a trained run from its directory."""

import pathlib
from typing import Any

import equinox as eqx
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from . import _rundir
from ._custom_types import RealScalarLike
from ._model import ScoreModel
from ._sde import AbstractSDE


class Run(eqx.Module):
    """A trained run, rebuilt from disk by [`scoresde.load`][].

    **Fields:**

    - `model`: the trained [`scoresde.ScoreModel`][] (EMA weights unless
      `load(..., ema=False)`).
    - `sde`: its SDE.
    - `config`: the run's `config.json` as a dict.
    - `losses`: the loss of every step up to the checkpoint (NumPy).
    - `step`: the number of steps trained.
    - `run_dir`: where it was loaded from.

    `run.score(t, y)` is the trained score function.
    """

    model: ScoreModel
    sde: AbstractSDE
    config: dict[str, Any]
    losses: np.ndarray
    step: int
    run_dir: pathlib.Path = eqx.field(static=True)

    def score(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "*shape"]:
        """The trained score $s_\\theta(t, y) \\approx \\nabla_y\\log p_t(y)$ of ONE
        sample `y` (and optional class `label`)."""
        return self.model(t, y, label)


def load(run_dir: str | pathlib.Path, *, ema: bool = True) -> Run:
    """Rebuild a trained model from a run directory written by
    [`scoresde.train`][] with `checkpoint_dir=run_dir`.

    The skeleton (network kind and sizes, SDE, parameterisation, `data_std`)
    comes from `config.json` ([`scoresde.model_from_config`][]); the weights
    from the newest checkpoint, `checkpoint.eqx`.

    **Arguments:**

    - `run_dir`: the run directory.
    - `ema`: load the exponential-moving-average weights (default) or the last
      iterate.

    **Returns:**

    A [`scoresde.Run`][]; `run.score(t, y)` is the trained score.

    **Raises:**

    - `FileNotFoundError` when `run_dir` does not exist.
    - [`scoresde.CheckpointError`][] (a `ValueError` and a `RuntimeError`) naming
      the file when `config.json` or `checkpoint.eqx` is missing, truncated or
      corrupted, with how to recover (for a damaged checkpoint: the previous one,
      `checkpoint.prev.eqx`, when it is intact). Never a silently wrong model:
      every checkpoint carries a SHA-256 checksum.
    """
    run_dir = pathlib.Path(run_dir)
    config, checkpoint = _rundir.read_run(run_dir)
    model, ema_model = checkpoint.tree
    chosen = ema_model if ema else model
    return Run(
        model=chosen,
        sde=chosen.sde,
        config=config,
        losses=checkpoint.losses,
        step=checkpoint.step,
        run_dir=run_dir,
    )
