"""What the demo's sections share: sizes, table rows, training, sampling and
evaluating against the exact oracle, and the report's figures and table."""

import dataclasses
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .. import plotting
from .._config import make_net
from .._likelihood import log_likelihood
from .._model import ScoreModel
from .._sample import sample
from .._sde import AbstractDiscreteSDE
from .._train import train
from ..datasets import GaussianMixture
from ..metrics import (
    mode_weight_error,
    outlier_fraction,
    sliced_wasserstein,
    wasserstein_1d,
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of the demo's experiments (`quick` for tests)."""

    train_steps: int
    batch_size: int
    num_samples: int
    num_likelihood: int
    sampler_steps: int
    langevin_steps: int
    langevin_per_level: int
    width: int
    depth: int


FULL = Settings(
    train_steps=3000,
    batch_size=512,
    num_samples=10_000,
    num_likelihood=1000,
    sampler_steps=500,
    langevin_steps=5000,
    langevin_per_level=20,
    width=128,
    depth=3,
)
QUICK = Settings(
    train_steps=60,
    batch_size=64,
    num_samples=300,
    num_likelihood=20,
    sampler_steps=20,
    langevin_steps=50,
    langevin_per_level=2,
    width=16,
    depth=1,
)


class Progress:
    """The demo's progress: one line per step on stderr, with the time since the
    start (`enabled=False` prints nothing)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:5.0f} s] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Row:
    """One line of the report's table."""

    data: str
    model: str
    sampler: str
    nfe: int
    weight_error: float
    distance: float
    distance_name: str
    outliers: float
    nll_model: float | None
    nll_true: float | None
    train_time: float | None


def train_model(
    key, data, sde, cfg: Settings, *, parameterization="v", weighting="score", lr=2e-3
):
    key_net, key_train = jax.random.split(key)
    net = make_net("mlp", data.shape, key=key_net, width=cfg.width, depth=cfg.depth)
    data_std = float(jnp.sqrt(jnp.mean(data.variance)))
    model = ScoreModel(net, sde, parameterization=parameterization, data_std=data_std)
    result = train(
        model,
        data,
        key=key_train,
        steps=cfg.train_steps,
        batch_size=cfg.batch_size,
        learning_rate=lr,
        weighting=weighting,
        progress=False,
    )
    return result


def sample_with_nfe(key, sde, score_fn, shape, n, sampler, **kwargs):
    ys, stats = sample(
        key,
        sde,
        score_fn,
        num_samples=n,
        shape=shape,
        sampler=sampler,
        return_stats=True,
        **kwargs,
    )
    return np.asarray(ys), int(np.max(np.asarray(stats["nfe"])))


def nll(key, model, mix: GaussianMixture, cfg: Settings) -> tuple[float, float]:
    """Mean NLL (nats) of true samples under the model (exact likelihood through
    the probability-flow ODE) and under the true density."""
    ys = mix.sample(jax.random.fold_in(key, 1), cfg.num_likelihood)
    sde = model.sde
    if isinstance(sde, AbstractDiscreteSDE):
        sde = sde.continuous_limit()
        model = eqx.tree_at(lambda m: m.sde, model, sde)
    logp = log_likelihood(key, sde, model, ys)
    return float(-jnp.mean(logp)), float(-jnp.mean(jax.vmap(mix.log_prob)(ys)))


def bar_weights(weights: dict[str, np.ndarray], truth: np.ndarray, path: Path) -> None:
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    labels = ["truth", *weights]
    values = [truth, *weights.values()]
    k = len(truth)
    width = 0.8 / len(labels)
    for i, (label, w) in enumerate(zip(labels, values)):
        ax.bar(
            np.arange(k) + i * width,
            w,
            width,
            label=label,
            color="0.6" if i == 0 else f"C{i - 1}",
        )
    ax.set_xticks(np.arange(k) + 0.4 - width / 2)
    ax.set_xticklabels([f"mode {j + 1}" for j in range(k)])
    ax.set_ylabel("weight")
    ax.legend(fontsize=7)
    ax.set_title("Mode weights (mean posterior responsibility) against the truth")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def loss_and_samples(losses, ys, reference, title, path: Path) -> None:
    """The case study's figure: the loss profile beside the samples."""
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(ncols=2)
    plotting.plot_loss(losses, ax=ax1, title=f"{title}: loss profile")
    plotting.plot_samples(
        ys, reference=reference, ax=ax2, title=f"{title}: generated samples"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def evaluate(
    data: str,
    mix: GaussianMixture,
    reference: np.ndarray,
    model: str,
    sampler: str,
    ys: np.ndarray,
    nfe: int,
    *,
    key=None,
    nll: tuple[float, float] | None = None,
    train_time: float | None = None,
) -> Row:
    """A table row for samples `ys` of `mix` (named `data`): the mode-weight error and the
    distance to `reference` true samples (W1 in 1-D, sliced W1 with `key` in 2-D)."""
    if ys.shape[1] == 1:
        distance, name = wasserstein_1d(ys, reference), "W1"
    else:
        distance, name = sliced_wasserstein(key, ys, reference), "sliced W1"
    nll_model, nll_true = (None, None) if nll is None else nll
    return Row(
        data,
        model,
        sampler,
        nfe,
        mode_weight_error(mix, ys),
        distance,
        name,
        outlier_fraction(mix, ys),
        nll_model,
        nll_true,
        train_time,
    )


def table(rows: list[Row]) -> list[str]:
    out = [
        "## Summary",
        "",
        "| data | model | sampler | NFE | max mode-weight error | distance to data | outliers | NLL model (nats) | NLL truth (nats) | training time |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        nll_m = "" if r.nll_model is None else f"{r.nll_model:.3f}"
        nll_t = "" if r.nll_true is None else f"{r.nll_true:.3f}"
        tt = "" if r.train_time is None else f"{r.train_time:.1f} s"
        out.append(
            f"| {r.data} | {r.model} | {r.sampler} | {r.nfe} | {r.weight_error:.3f} | "
            f"{r.distance_name} {r.distance:.3f} | {r.outliers:.2%} | {nll_m} | "
            f"{nll_t} | {tt} |"
        )
    out += [
        "",
        "NFE: score evaluations per sample. Distance to data: Wasserstein-1 (1-D) or "
        "sliced Wasserstein-1 (2-D) between the samples and as many true samples; the "
        "baseline rows give the same numbers for a second set of true samples: the noise floor of "
        "the distance at this sample size. Outliers: the share of samples more than "
        "6 standard deviations (Mahalanobis) from every component "
        "(`ss.metrics.outlier_fraction`). NLL: "
        "mean negative log-likelihood of true samples, under the model (exact, through "
        "the probability-flow ODE) and under the true density.",
        "",
    ]
    return out
