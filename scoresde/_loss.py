r"""Denoising score matching (Vincent 2011; Song et al. 2021, eq. 7)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import KeyArray, RealScalarLike, default_float
from ._model import ScoreModel
from ._sde import AbstractSDE
from ._time_sampling import AbstractTimeSampling, IIDTimes
from ._validation import check_in_interval, is_concrete
from ._weighting import AbstractWeighting, as_weighting


def dsm_loss(
    model: Callable,
    sde: AbstractSDE,
    key: KeyArray,
    y0_batch: Float[ArrayLike, "n ..."],
    weighting: str | AbstractWeighting | Callable = "score",
    *,
    t_eps: RealScalarLike = 1e-5,
    labels: ArrayLike | None = None,
    time_sampling: AbstractTimeSampling = IIDTimes(),
    times: ArrayLike | None = None,
) -> Float[Array, ""]:
    r"""The denoising score-matching loss of a score model on a batch of data:

    $$\mathcal{L} = \frac1n\sum_{i=1}^n w_i\,\lambda(t_i)\,
    \big\| s_\theta(t_i, y_i) + \epsilon_i / s(t_i) \big\|^2,
    \qquad y_i = m(t_i)\,y_{0,i} + s(t_i)\,\epsilon_i,$$

    with $(m, s)$ = `sde.marginal(t)` (the exact kernel), $\epsilon_i \sim
    \mathcal{N}(0, I)$, the squared norm summed over the data's coordinates,
    and $(t_i, w_i)$ drawn by the weighting: $t \sim U(t_\varepsilon, T)$ for
    continuous SDEs, $t$ uniform on the grid $\{1/N, \dots, 1\}$ for
    [`scoresde.DDPM`][] / [`scoresde.NCSN`][] (so with `"eps"` this is Ho et
    al.'s discrete loss, up to the sum over coordinates, and with `"score"`
    Song & Ermon's NCSN loss), importance-sampled for `"likelihood"`.

    Its minimum over all functions is reached at the true score
    $\nabla\log p_t$ and equals
    $\mathbb{E}_t\,\lambda(t)\,\big(d/s(t)^2 - \mathbb{E}_{p_t}\|\nabla\log p_t\|^2\big)$.

    **Arguments:**

    - `model`: a score function `model(t, y)` (or `model(t, y, label)` when
      `labels` is given), e.g. a [`scoresde.ScoreModel`][] or
      [`scoresde.exact_score`][].
    - `sde`: the SDE that noises the data.
    - `key`: a PRNG key (for $t$ and $\epsilon$).
    - `y0_batch`: clean data, shape `(n, *shape)`.
    - `weighting`: `"score"` ($\lambda = s^2$, default), `"eps"` (the same
      objective, Ho et al.'s $\|\hat\epsilon - \epsilon\|^2$), `"v"`
      ($\|\hat v - v\|^2$, see [`scoresde.VWeighting`][]), `"likelihood"`
      ($\lambda = g^2$ with importance sampling, see
      [`scoresde.LikelihoodWeighting`][]), any
      [`scoresde.AbstractWeighting`][], or a function `fn(sde, t) -> lambda`.
    - `t_eps`: the smallest time for continuous SDEs (default $10^{-5}$), where
      the score is still finite.
    - `labels`: integer class labels `(n,)` for a class-conditional model.
    - `time_sampling`: [`scoresde.IIDTimes`][] (default),
      [`scoresde.StratifiedTimes`][] (one $t$ per interval $[i/n, (i+1)/n)$ with
      a shared offset, Kingma et al. 2021) or [`scoresde.AntitheticTimes`][]
      (pairs $u$, $1 - u$); the last two lower the variance.
    - `times`: evaluate at these times `(n,)` instead of drawing them (no
      importance weights).

    **Returns:**

    The scalar loss (mean over the batch).
    """
    y0 = jnp.asarray(y0_batch)
    if y0.ndim < 1 or y0.shape[0] < 1:
        raise ValueError(
            f"`y0_batch` must have shape (n, *shape) with n >= 1, got {y0.shape}."
        )
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        y0 = y0.astype(default_float())
    if is_concrete(y0) and not bool(jnp.all(jnp.isfinite(y0))):
        raise ValueError(
            f"`y0_batch` must be finite; it holds {int(jnp.sum(~jnp.isfinite(y0)))} "
            "NaN or inf values."
        )
    n = y0.shape[0]
    if not isinstance(time_sampling, AbstractTimeSampling):
        raise TypeError(
            "`time_sampling` must be a time-sampling object: ss.IIDTimes(), "
            f"ss.StratifiedTimes() or ss.AntitheticTimes(); got {time_sampling!r}."
        )
    check_in_interval("t_eps", t_eps, 0.0, sde.T, low_open=True, high_open=True)
    if labels is not None:
        labels = jnp.asarray(labels)
        if labels.shape != (n,) or not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(
                f"`labels` must be an integer array of shape ({n},), got "
                f"{labels.dtype} of shape {labels.shape}."
            )
        num_classes = model.net.num_classes if isinstance(model, ScoreModel) else None
        if is_concrete(labels) and labels.size:
            low, high = int(jnp.min(labels)), int(jnp.max(labels))
            top = num_classes if num_classes is not None else high
            if low < 0 or high > top:
                raise ValueError(
                    f"`labels` must lie in 0..{top} ({top} = no label), got "
                    f"values in {low}..{high}."
                )
    data_std = model.data_std if isinstance(model, ScoreModel) else 1.0
    weighting = as_weighting(weighting, data_std)

    key_t, key_eps = jax.random.split(key)
    if times is None:
        t, importance = weighting.sample_times(
            sde, key_t, n, float(t_eps), time_sampling
        )
    else:
        t = jnp.asarray(times, y0.dtype)
        if t.shape != (n,):
            raise ValueError(f"`times` must have shape ({n},), got {t.shape}.")
        if is_concrete(t):
            values = np.asarray(t)
            if not (np.all(np.isfinite(values)) and np.all(values > 0)) or np.any(
                values > sde.T
            ):
                raise ValueError(
                    f"`times` must lie in (0, T] = (0, {sde.T:g}], got values in "
                    f"[{values.min():g}, {values.max():g}]."
                )
        importance = jnp.ones_like(t)
    eps = jax.random.normal(key_eps, y0.shape, y0.dtype)

    def per_sample(t_i, w_i, y0_i, eps_i, label_i):
        m, s = sde.marginal(t_i)
        y_t = m * y0_i + s * eps_i
        score = model(t_i, y_t) if label_i is None else model(t_i, y_t, label_i)
        # lambda ||score + eps/s||^2 = (lambda/s^2) ||s score + eps||^2: stable as s -> 0.
        relative = weighting(sde, t_i) / s**2
        return w_i * relative * jnp.sum((s * score + eps_i) ** 2)

    in_label = None if labels is None else 0
    losses = jax.vmap(per_sample, in_axes=(0, 0, 0, 0, in_label))(
        t, importance, y0, eps, labels
    )
    return jnp.mean(losses)
