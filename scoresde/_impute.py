r"""Imputation (inpainting): sample the unobserved entries of data given the
observed ones, with an unconditional score model and any sampler."""

import math
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float

from ._custom_types import ArrayInput, KeyArray, default_float
from ._distributed import default_mesh, pad_by_repeats, put
from ._samplers import AbstractSampler, ReverseSDE
from ._samplers._inputs import check_sampling_inputs
from ._sde import AbstractSDE
from ._validation import check_int, check_key, check_real_scalar


METHODS = ("replacement", "reconstruction")

#: Default chunk: at most this many numbers per state (as in `sample`).
_CHUNK_ELEMENTS = 2**24


class ImputationScore(eqx.Module):
    r"""The score that imputes ONE sample: a score function `(t, y) -> score` for
    a sampler, built by [`scoresde.impute`][] around an unconditional score $s$.

    At each evaluation time $t$ the observed entries of $y$ are replaced by a
    forward-noised observation $y^o_t = m(t)\,x^o + s(t)\,z$, $z \sim
    \mathcal{N}(0, I)$ drawn afresh for each time (from `key` and $t$), and the
    score is evaluated there: $\hat y = M \odot y^o_t + (1 - M) \odot y$. For
    `"reconstruction"`, the gradient of the Gaussian log-likelihood of the
    observations under Tweedie's denoiser $\hat x_0(\hat y) = (\hat y + s^2
    s_\theta(t, \hat y))/m$ is added to the unobserved entries,

    $$\tilde s(t, y) = s_\theta(t, \hat y) - w_r\,\frac{m^2}{2 s^2}\,
    (1 - M) \odot \nabla_{\hat y}\big\lVert M \odot (x^o - \hat x_0(\hat y))
    \big\rVert^2,$$

    which is $w_r$ times $\nabla \log \mathcal{N}(x^o; \hat x_0^o, (s/m)^2 I)$
    (Ho et al. 2022, eq. 7, in score form).
    """

    score_fn: Callable[..., Array]
    sde: AbstractSDE
    observed: Float[Array, "..."]
    mask: Bool[Array, "..."]
    key: KeyArray
    method: str = eqx.field(static=True)
    reconstruction_weight: float

    def noised_observation(self, t, like: Array) -> Array:
        """$m(t)\\,x^o + s(t)\\,z$ with $z$ fresh for each `t`."""
        mean_coeff, std = self.sde.marginal(t)
        t_bits = jax.lax.bitcast_convert_type(jnp.asarray(t, jnp.float32), jnp.uint32)
        z = jax.random.normal(jax.random.fold_in(self.key, t_bits), like.shape)
        return (mean_coeff * self.observed + std * z).astype(like.dtype)

    def __call__(self, t, y):
        y_hat = jnp.where(self.mask, self.noised_observation(t, y), y)
        if self.method == "replacement":
            return self.score_fn(t, y_hat)
        mean_coeff, std = self.sde.marginal(t)

        def misfit(v):
            score = self.score_fn(t, v)
            x0_hat = (v + std**2 * score) / mean_coeff
            residual = jnp.where(self.mask, self.observed - x0_hat, 0.0)
            return jnp.sum(residual**2), score

        grad, score = jax.grad(misfit, has_aux=True)(y_hat)
        weight = self.reconstruction_weight * mean_coeff**2 / (2 * std**2)
        guided = score - weight * jnp.where(self.mask, 0.0, grad)
        return guided.astype(y.dtype)


def impute(
    key: KeyArray,
    sde: AbstractSDE,
    score_fn: Callable[[Any, Array], Array],
    observed: ArrayInput,
    mask: ArrayInput,
    *,
    sampler: AbstractSampler = ReverseSDE(),
    method: str = "replacement",
    reconstruction_weight: float = 1.0,
    t_eps: float = 1e-3,
    chunk_size: int | None = None,
    mesh: Mesh | None = None,
) -> Float[Array, "n ..."]:
    r"""Impute the unobserved entries of `observed` with an unconditional score
    model: sample $y_u \sim p(y_u \mid y_o = x^o)$ approximately.

    The sampler runs on the whole sample; at every score evaluation (time $t$) the
    observed entries are replaced by a forward-noised observation
    $m(t)\,x^o + s(t)\,z$ with fresh $z \sim \mathcal{N}(0, I)$, and at the end
    they are set to the observations exactly. Two methods:

    - `"replacement"` (Song et al. 2021, appendix I.2; score_sde's
      `controllable_generation.py`): the score at the replaced state drives the
      unobserved entries. It is biased: the unobserved entries only see a
      noisy observation, one fresh draw per step, so at high noise they are
      pulled towards the unconditional law, and the result can keep mass on
      modes the observation rules out (see the tutorial for measured numbers).
    - `"reconstruction"` (reconstruction guidance, Ho et al. 2022, "Video
      diffusion models", eq. 7): replacement plus the gradient, in the
      unobserved entries, of the log-likelihood of the observations under the
      Tweedie denoiser $\hat x_0(y) = (y + s^2 s_\theta(t, y))/m$ with the
      Gaussian approximation $x^o \mid y_t \approx \mathcal{N}(\hat x_0^o,
      (s/m)^2 I)$:
      $-w_r\,\frac{m^2}{2s^2}\nabla_y\lVert x^o - \hat x_0^o(y)\rVert^2$. The
      weight $w_r$ is `reconstruction_weight` (1 is that Gaussian approximation;
      Ho et al. find larger weights better for video). Each score evaluation then
      costs a forward and a backward pass of the score function.

    Because only the score function is changed, this works with every sampler
    of [`scoresde.sample`][]. Replacement draws fresh noise at each evaluation
    time, which suits the stochastic samplers ([`scoresde.ReverseSDE`][] (the
    default), [`scoresde.PredictorCorrector`][], [`scoresde.Ancestral`][]); an
    adaptive [`scoresde.ProbabilityFlowODE`][] sees a noisy vector field and
    takes many small steps — prefer a fixed-step sampler.

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `sde`: the forward SDE the score model was trained for.
    - `score_fn`: an unconditional score function `(t, y) -> score` (a
      `ScoreModel`, `run.score` of a loaded run, or [`scoresde.exact_score`][]).
    - `observed`: shape `(n, *shape)`: the data to complete, one row per sample;
      entries where `mask` is False are ignored (they may be NaN).
    - `mask`: booleans, True where an entry is observed; of shape `shape` (the
      same entries observed in every row) or `(n, *shape)`. Every row must leave
      at least one entry unobserved.
    - `sampler`: any sampler of [`scoresde.sample`][] (default
      `ss.ReverseSDE()`, Euler-Maruyama with 1000 steps).
    - `method`: `"replacement"` (default) or `"reconstruction"`.
    - `reconstruction_weight`: $w_r > 0$ for `"reconstruction"` (default 1.0).
    - `t_eps`: the time at which the continuous samplers stop (default
      $10^{-3}$).
    - `chunk_size`: rows per compiled batch (`None`: as in `sample`).
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis over which the rows are
      split (default `None`: every device of every process), as in
      [`scoresde.sample`][]. A row depends only on its own key, so the result
      does not depend on the number of devices (up to round-off with a
      network, as for `sample`).

    **Returns:**

    The imputed samples, shape `(n, *shape)`: the observed entries equal
    `observed` exactly, the others are the sampler's output.

    !!! example

        ```python
        import jax
        import jax.numpy as jnp
        import scoresde as ss

        mix = ss.datasets.get("nine-gaussians")
        sde = ss.VPSDE()
        observed = jnp.tile(jnp.array([2.0, 0.0]), (500, 1))   # x = 2 observed
        ys = ss.impute(jax.random.key(0), sde, ss.exact_score(mix, sde),
                       observed, jnp.array([True, False]),
                       sampler=ss.ReverseSDE(num_steps=200))
        # compare ys[:, 1] with mix.condition([True, False], [2.0, 0.0])
        ```

    ??? cite "References"

        ```bibtex
        @inproceedings{song2021scorebased,
            title={Score-Based Generative Modeling through Stochastic
                   Differential Equations},
            author={Song, Yang and Sohl-Dickstein, Jascha and Kingma, Diederik P
                    and Kumar, Abhishek and Ermon, Stefano and Poole, Ben},
            booktitle={International Conference on Learning Representations},
            year={2021}
        }

        @inproceedings{ho2022video,
            title={Video Diffusion Models},
            author={Ho, Jonathan and Salimans, Tim and Gritsenko, Alexey and
                    Chan, William and Norouzi, Mohammad and Fleet, David J},
            booktitle={Advances in Neural Information Processing Systems},
            year={2022}
        }
        ```
    """
    if not isinstance(sampler, AbstractSampler):
        raise TypeError(
            "`sampler` must be a scoresde sampler such as ss.ReverseSDE(), got "
            f"{sampler!r}."
        )
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    check_real_scalar("reconstruction_weight", reconstruction_weight)
    if not float(reconstruction_weight) > 0:
        raise ValueError(
            f"`reconstruction_weight` must be > 0, got {float(reconstruction_weight)!r}."
        )
    check_key(key)
    observed, mask = check_observed_mask(observed, mask)
    n, shape = observed.shape[0], tuple(observed.shape[1:])
    t_eps = check_sampling_inputs(sde, score_fn, shape, t_eps)
    sampler.check_sde(sde)
    if chunk_size is None:
        chunk_size = max(1, min(n, _CHUNK_ELEMENTS // math.prod(shape)))
    else:
        chunk_size = min(check_int("chunk_size", chunk_size, minimum=1), n)
    mesh = default_mesh(mesh)
    # Every device gets an equal part of each chunk.
    num_devices = mesh.shape["data"]
    chunk_size = -(-chunk_size // num_devices) * num_devices
    sharding = NamedSharding(mesh, PartitionSpec("data"))

    dtype = default_float()
    observed = jnp.asarray(np.where(mask, observed, 0.0), dtype)
    mask = jnp.asarray(mask)
    keys = jax.random.split(key, n)
    num_chunks = -(-n // chunk_size)
    # Padding repeats rows (their results are dropped).
    keys, observed, mask = pad_by_repeats(
        (keys, observed, mask), num_chunks * chunk_size
    )
    outputs = []
    for i in range(num_chunks):
        rows = slice(i * chunk_size, (i + 1) * chunk_size)
        chunk = put((keys[rows], observed[rows], mask[rows]), sharding)
        outputs.append(
            _impute_chunk(
                sampler,
                sde,
                score_fn,
                *chunk,
                method,
                float(reconstruction_weight),
                shape,
                t_eps,
                sharding,
            )
        )
    if len(outputs) == 1:
        return outputs[0][:n]
    return jnp.concatenate(outputs)[:n]


@eqx.filter_jit
def _impute_chunk(
    sampler, sde, score_fn, keys, observed, mask, method, weight, shape, t_eps, sharding
):
    def one(key, obs, m):
        key_sampler, key_obs = jax.random.split(key)
        score = ImputationScore(score_fn, sde, obs, m, key_obs, method, weight)
        out = sampler.sample_batch(
            sde,
            score,
            key_sampler[None],
            shape,
            t_eps=t_eps,
            save_ts=None,
            progress_meter=diffrax.NoProgressMeter(),
        )
        return jnp.where(m, obs, out.sample[0])

    out = jax.vmap(one)(keys, observed, mask)
    return jax.lax.with_sharding_constraint(out, sharding)


def check_observed_mask(observed: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Boundary checks of `impute`'s `observed` and `mask`: returns them as NumPy
    arrays of shape `(n, *shape)` (the mask broadcast to every row)."""
    obs = np.asarray(observed)
    if not np.issubdtype(obs.dtype, np.number) or np.issubdtype(
        obs.dtype, np.complexfloating
    ):
        raise TypeError(
            f"`observed` must be a real numeric array, got dtype {obs.dtype}."
        )
    if obs.ndim < 2 or obs.shape[0] == 0:
        raise ValueError(
            "`observed` must have shape (n, *shape) with n >= 1 (one row per sample "
            f"to complete), got {obs.shape}."
        )
    shape = obs.shape[1:]
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(
            f"`mask` must be booleans (True = observed), got dtype {m.dtype}."
        )
    if m.shape == shape:
        m = np.broadcast_to(m, obs.shape)
    elif m.shape != obs.shape:
        raise ValueError(
            f"`mask` must have the shape of one sample {shape} or of `observed` "
            f"{obs.shape}, got {m.shape}."
        )
    full = m.reshape(m.shape[0], -1).all(axis=1)
    if full.any():
        raise ValueError(
            f"`mask` observes every entry of row {int(np.flatnonzero(full)[0])}, so "
            "nothing is left to impute; at least one entry per row must be False."
        )
    if not np.all(np.isfinite(obs[m])):
        raise ValueError("`observed` must be finite where `mask` is True.")
    return obs, m
