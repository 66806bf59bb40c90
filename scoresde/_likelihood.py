r"""Exact log-likelihoods through the probability-flow ODE (Song et al. 2021,
Section 4.3 and Appendix D.2), and bits per dimension for discrete data."""

import functools
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import KeyArray, default_float
from ._distributed import default_mesh, put
from ._divergence import AbstractDivergence, AutoDivergence
from ._nonfinite import check_finite_score
from ._ode import ODESolve
from ._samplers._nfe import evals_per_step
from ._sde import AbstractDiscreteSDE, AbstractSDE
from ._validation import check_in_interval, check_int, check_key, is_concrete


#: Data of at most this many dimensions gets the exact divergence under the
#: default [`scoresde.AutoDivergence`][]; larger data gets the Hutchinson estimator.
EXACT_DIVERGENCE_MAX_DIM = AutoDivergence().max_exact_dim


def _max_norm(tree) -> Array:
    # The largest scaled error over every component, Delta log p included, so that
    # the log-density is controlled as tightly as the state however large d is
    # (Diffrax's default RMS norm would dilute its error by sqrt(d + 1)).
    leaves = [jnp.max(jnp.abs(x)) for x in jtu.tree_leaves(tree)]
    return functools.reduce(jnp.maximum, leaves)


def _log_likelihood_one(
    key, y, sde, score_fn, prior_log_prob, *, t_eps, ode, divergence, norm=_max_norm
):
    """One point's solve. Under `vmap` with shared steps, `norm` is the largest
    error of the batch, so that every point takes the same steps."""
    dtype = y.dtype
    probes = divergence.draw_probes(key, y.shape, dtype)

    def vector_field(t, state, probes):
        y_t, _ = state

        def drift(x):
            return sde.probability_flow_drift(t, x, score_fn(t, x)).astype(dtype)

        value, div = divergence(drift, y_t, probes)
        return value, div.astype(dtype)

    t0, t1 = float(t_eps), float(sde.T)
    controller, max_steps = ode.controller(t0, t1, norm)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        ode.solver,
        t0=t0,
        t1=t1,
        dt0=None,
        y0=(y, jnp.zeros((), dtype)),
        args=probes,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=controller,
        max_steps=max_steps,
    )
    y_T, delta = sol.ys[0][-1], sol.ys[1][-1]
    logp = prior_log_prob(y_T).astype(dtype) + delta
    stats = {
        k: jnp.asarray(sol.stats[k])
        for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")
    }
    return logp, stats


#: The name of the `vmap` axis over the points of a chunk.
_POINTS = "points"


def _batch_max_norm(tree) -> Array:
    """Shared steps: the largest error over the points of the batch (the `vmap`
    axis `_POINTS`), so every point accepts and rejects the same steps. Each
    point's own arithmetic is that of a solve on its own, and a maximum is exact,
    so the result does not depend on how the batch is split over devices."""
    own = _max_norm(tree)
    # `maximum` keeps the value batched (it equals the batch's maximum), so the
    # solver's times stay per point as in an unshared solve: an unbatched time
    # would take other (vectorised versus scalar) code paths in XLA.
    return jnp.maximum(own, jax.lax.pmax(own, _POINTS))


@eqx.filter_jit
def _log_likelihood_all(
    keys, ys, sde, score_fn, prior_log_prob, chunk_size, config, shared, sharding
):
    """`ys` of `num_chunks * chunk_size` points, solved chunk after chunk; each
    chunk split over the devices of `sharding`; within a chunk, shared steps
    (`shared`) or every point its own (`vmap`)."""
    num_chunks = ys.shape[0] // chunk_size

    def constrain(x):
        if sharding is None:
            return x
        return jax.lax.with_sharding_constraint(x, sharding)

    def chunk(args):
        keys, ys = jax.tree_util.tree_map(constrain, args)
        norm = _batch_max_norm if shared else _max_norm
        out = jax.vmap(
            lambda k, y: _log_likelihood_one(
                k, y, sde, score_fn, prior_log_prob, **config, norm=norm
            ),
            axis_name=_POINTS,
        )(keys, ys)
        return jax.tree_util.tree_map(constrain, out)

    if num_chunks == 1:
        return chunk((keys, ys))

    def split(x):
        x = x.reshape(num_chunks, chunk_size, *x.shape[1:])
        if sharding is None:
            return x
        chunked = NamedSharding(sharding.mesh, PartitionSpec(None, "data"))
        return jax.lax.with_sharding_constraint(x, chunked)

    out = jax.lax.map(chunk, jax.tree_util.tree_map(split, (keys, ys)))
    return jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), out)


def _check_sde(sde: Any) -> None:
    if not isinstance(sde, AbstractSDE):
        raise TypeError(
            f"`sde` must be a scoresde SDE (an AbstractSDE), got {type(sde).__name__}."
        )
    if isinstance(sde, AbstractDiscreteSDE):
        name = type(sde).__name__
        limit = sde.continuous_limit()
        hint = f"its continuous limit, sde.continuous_limit() = {limit}"
        raise ValueError(
            f"log_likelihood does not accept the discrete SDE {name}: its "
            "coefficients jump at every grid point t_i = i/N, so the "
            "probability-flow ODE has a discontinuous vector field and its "
            "likelihood would be that of a piecewise ODE that no discrete "
            f"{name} model defines (their own likelihood is the discrete chain's "
            "variational bound). Evaluate a model trained with a discrete schedule "
            f"under {hint} (as Song et al. 2021 do for DDPM checkpoints)."
        )


def _check_ys(ys: Any, name: str = "ys") -> Array:
    try:
        arr = jnp.asarray(ys)
    except Exception as e:
        raise TypeError(
            f"`{name}` must be an array of shape (n, *data_shape), got "
            f"{type(ys).__name__}."
        ) from e
    if not (
        jnp.issubdtype(arr.dtype, jnp.floating)
        or jnp.issubdtype(arr.dtype, jnp.integer)
    ):
        raise TypeError(f"`{name}` must hold real numbers, got dtype {arr.dtype}.")
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.size == 0:
        hint = " For 1-D data pass ys[:, None]." if arr.ndim == 1 else ""
        raise ValueError(
            f"`{name}` must have shape (n, *data_shape) with n >= 1 and a "
            f"non-empty data shape, got shape {arr.shape}.{hint}"
        )
    if is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        bad = int(jnp.sum(~jnp.isfinite(arr)))
        raise ValueError(f"`{name}` must be finite, got {bad} non-finite values.")
    return arr.astype(default_float())


def _check_callable_output(
    name: str, fn: Callable, args: tuple, want_shape: tuple[int, ...], what: str
) -> None:
    if not callable(fn):
        raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}.")
    try:
        out = jax.eval_shape(fn, *args)
    except Exception as e:
        raise ValueError(
            f"`{name}` failed when called on {what}; it must take ONE sample (not "
            f"a batch): {type(e).__name__}: {e}"
        ) from e
    shape = getattr(out, "shape", None)
    if shape != want_shape:
        raise ValueError(
            f"`{name}` must return an array of shape {want_shape} when called on "
            f"{what}, got {shape if shape is not None else type(out).__name__}."
        )


def log_likelihood(
    key: KeyArray,
    sde: AbstractSDE,
    score_fn: Callable,
    ys: ArrayLike,
    *,
    t_eps: float = 1e-5,
    ode: ODESolve = ODESolve(),
    divergence: AbstractDivergence = AutoDivergence(),
    prior_log_prob: Callable | None = None,
    chunk_size: int | None = None,
    return_stats: bool = False,
    mesh: Mesh | None = None,
) -> Float[Array, " n"] | tuple[Float[Array, " n"], dict[str, Array]]:
    r"""The log-likelihood $\log p(y)$, in nats, of each sample of `ys` under the
    model defined by `score_fn` through the probability-flow ODE (Song et al.
    2021, Section 4.3 and Appendix D.2; Chen et al. 2018; Grathwohl et al. 2019).

    The probability-flow ODE $\dot y = F(t, y) = f(y, t) - \tfrac12 g(t)^2
    s(t, y)$ ([`scoresde.AbstractSDE.probability_flow_drift`][]) moves density by
    the instantaneous change of variables
    $\tfrac{\mathrm{d}}{\mathrm{d}t}\log p_t(y_t) = -\nabla\cdot F(t, y_t)$. So
    with $y_{t_\varepsilon} = y$ we solve, with Diffrax, the augmented ODE

    $$\frac{\mathrm{d}}{\mathrm{d}t}\begin{pmatrix} y_t \\ \Delta_t \end{pmatrix}
    = \begin{pmatrix} F(t, y_t) \\ \nabla\cdot F(t, y_t) \end{pmatrix},
    \qquad \Delta_{t_\varepsilon} = 0,$$

    from $t_\varepsilon$ to $T$ and return
    $\log p_{t_\varepsilon}(y) = \log \pi(y_T) + \Delta_T$, where $\pi$ is the
    prior (`sde.prior_log_prob`) or the `prior_log_prob` you pass.

    **What the number is.** With the exact score and the exact $p_T$ in place of
    the prior, it is exactly $\log p_{t_\varepsilon}(y)$, the density of the data
    diffused to time $t_\varepsilon$, up to the solver's tolerance. Two things
    separate it from $\log p_0(y)$:

    - *The prior mismatch.* The SDE's $p_T$ is not exactly its prior $\pi$. With
      the prior the result is the log-density of the model whose time-$T$
      marginal is $\pi$; averaged over data it is lower by exactly
      $\mathrm{KL}(p_T \,\|\, \pi)$ than with $p_T$ (tiny for the default SDEs
      on standardised data: see the tutorial). Pass `prior_log_prob` when you
      know $\log p_T$, as the Gaussian-mixture oracle does:
      `prior_log_prob=lambda y: mix.marginal(sde, sde.T).log_prob(y)`.
    - *$t_\varepsilon$.* The solve starts at $t_\varepsilon$, not 0, because a
      trained score diverges as $t \to 0$ (Song et al. use $10^{-5}$). The
      result is then $\log p_{t_\varepsilon}$ evaluated at the data point itself
      (no noise is added). For the default SDEs $\log p_{t_\varepsilon}(y) -
      \log p_0(y) = O(s(t_\varepsilon)^2)$, about $10^{-6}$ nats per unit of the
      density's curvature at $t_\varepsilon = 10^{-5}$ — far below solver error.
      `t_eps=0` is allowed, and exact, when the score is finite at $t = 0$
      (e.g. [`scoresde.exact_score`][]).

    **The divergence** is an estimator object. [`scoresde.ExactDivergence`][]
    computes $\nabla\cdot F$ as $d$ Jacobian-vector products, one per basis
    vector ($d$ = the number of coordinates of one sample).
    [`scoresde.Hutchinson`][] uses the Hutchinson–Skilling estimator
    $\varepsilon^\top \tfrac{\partial F}{\partial y} \varepsilon$ with
    `num_probes` probes $\varepsilon$ (Rademacher or Gaussian) drawn once per
    sample and held fixed along its solve, which makes the returned
    log-likelihood an unbiased estimate of the exact-trace one.
    [`scoresde.AutoDivergence`][] (default) is the exact one for $d \le 64$ and
    Hutchinson above.

    **Precision.** Everything runs in the input's float dtype (float32 by
    default; x64 only if you enabled it). The step-size controller bounds the
    local error of every component of $(y, \Delta)$ by `atol + rtol * |value|` in
    the max norm, so the log-density is controlled as tightly as the state. On
    the Gaussian-mixture oracles under the VP SDE (exact score and $p_T$) the
    default tolerances give a mean error of $\sim 2\times10^{-5}$ nats and a
    worst point of 2,000 near $10^{-3}$; `rtol = atol = 1e-6` gives a worst
    point near $10^{-4}$. Below that, float32 round-off in the accumulated
    $\Delta$ sets a floor of about $10^{-6}$ to $10^{-5}$ nats (in float64 the
    same solves reach $10^{-6}$ per point). See the Likelihood tutorial.

    **Arguments:**

    - `key`: a JAX PRNG key; draws the Hutchinson probes (sample `i` uses
      `jax.random.fold_in(key, i)`, so results do not depend on `chunk_size`).
      Unused with the exact divergence.
    - `sde`: a continuous SDE of scoresde. The discrete [`scoresde.DDPM`][] and
      [`scoresde.NCSN`][] are refused with a `ValueError`: their coefficients
      jump at every grid point, their own likelihood is the discrete chain's
      variational bound rather than an ODE's, and a model trained on them is
      evaluated under its continuous limit ([`scoresde.VPSDE`][],
      [`scoresde.VESDE`][]), as in Song et al. (2021).
    - `score_fn`: a per-sample score function `(t, y) -> like y`, e.g. a trained
      model or [`scoresde.exact_score`][]. Pass the same object across calls to
      reuse the compiled solve (an `equinox.Module` is traced, not hashed).
    - `ys`: the data, shape `(n, *data_shape)`, finite.
    - `t_eps`: where the solve starts, in $[0, T)$.
    - `ode`: how to solve the ODE, an [`scoresde.ODESolve`][] (solver,
      tolerances or fixed steps; default Tsit5 with `rtol = atol = 1e-5`).
    - `divergence`: the divergence estimator, an
      [`scoresde.ExactDivergence`][], [`scoresde.Hutchinson`][] or
      [`scoresde.AutoDivergence`][] (default).
    - `prior_log_prob`: optional per-sample callable `y_T -> log p_T(y_T)`
      replacing `sde.prior_log_prob`.
    - `chunk_size`: solve at most this many samples at a time (bounds memory);
      default all at once. Compiled once either way. With the shared adaptive
      steps of `ode` (its default) a chunk's points take the same steps.
    - `return_stats`: also return solver statistics.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis over which the points
      are split (default `None`: a 1-D mesh over `jax.devices()`, every device
      of every process). Each chunk is split evenly: `chunk_size` is rounded up
      to a multiple of the number of devices, and the padding (repeats of the
      first points) is dropped. A result depends on its point and its chunk
      only (through the shared steps of `ode`, whose largest error is the same
      on any split), so it is the same on 1, 2 or 4 devices and 1 or several
      processes whenever the chunks are: all points in one chunk (the
      default), or a `chunk_size` that every device count divides — bit for
      bit with the same number of devices per process, and otherwise up to
      round-off when `score_fn` is a network (XLA rounds its matrix products
      differently for another number of rows per device). With
      several processes (`jax.distributed`) every process calls it with the
      same arguments and gets the global array.

    **Returns:**

    `logp`, shape `(n,)`, in nats. With `return_stats=True`, the pair
    `(logp, stats)` where `stats` holds per-sample `(n,)` arrays `"nfe"` (the
    number of evaluations of the augmented vector field, each one evaluation of
    `score_fn` plus its $d$ exact or `num_probes` Hutchinson Jacobian-vector
    products, computed from the solver's Butcher tableau and the step count
    as the samplers count theirs: exact for Diffrax's explicit solvers except
    that a first-same-as-last solver re-evaluates its first stage after each
    rejection of its *first* step, one evaluation per such rejection not
    counted here; -1 for solvers whose count is not a fixed formula, such as
    implicit ones), `"num_steps"`, `"num_accepted_steps"` and `"num_rejected_steps"`.

    **Raises:** `TypeError`/`ValueError` naming the argument for bad input: `ys`
    not of shape `(n, *data_shape)` or not finite, a `score_fn` that fails on one
    sample or returns the wrong shape, a `prior_log_prob` that does not return a
    scalar, options out of range, a discrete SDE.

    !!! example

        ```python
        import jax
        import scoresde as ss

        mix = ss.datasets.get("mixture-1d")
        sde = ss.VPSDE()
        ys = mix.sample(jax.random.key(0), 100)
        logp = ss.log_likelihood(jax.random.key(1), sde, ss.exact_score(mix, sde), ys)
        # close to jax.vmap(mix.log_prob)(ys); tighter, with 4 Hutchinson probes:
        logp = ss.log_likelihood(
            jax.random.key(1), sde, ss.exact_score(mix, sde), ys,
            ode=ss.ODESolve(rtol=1e-6, atol=1e-6),
            divergence=ss.Hutchinson(num_probes=4),
        )
        ```
    """
    check_key(key)
    _check_sde(sde)
    ys = _check_ys(ys)
    data_shape = ys.shape[1:]
    check_in_interval("t_eps", t_eps, 0.0, float(sde.T), high_open=True)
    if not isinstance(ode, ODESolve):
        raise TypeError(
            "`ode` must be a scoresde.ODESolve (e.g. ss.ODESolve(rtol=1e-6, "
            f"atol=1e-6)), got {type(ode).__name__}."
        )
    if not isinstance(divergence, AbstractDivergence):
        raise TypeError(
            "`divergence` must be an estimator object: ss.ExactDivergence(), "
            f"ss.Hutchinson(num_probes=...) or ss.AutoDivergence(); got {divergence!r}."
        )
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    if not isinstance(return_stats, bool):
        raise TypeError(f"`return_stats` must be a bool, got {return_stats!r}.")

    y_spec = jax.ShapeDtypeStruct(data_shape, ys.dtype)
    t_spec = jax.ShapeDtypeStruct((), ys.dtype)
    _check_callable_output(
        "score_fn",
        score_fn,
        (t_spec, y_spec),
        data_shape,
        f"(t, y) with scalar t and one sample y of shape {data_shape}",
    )
    if prior_log_prob is None:
        prior_log_prob = sde.prior_log_prob
    else:
        _check_callable_output(
            "prior_log_prob",
            prior_log_prob,
            (y_spec,),
            (),
            f"one sample of shape {data_shape}",
        )

    score_fn = check_finite_score(score_fn, T=float(sde.T))
    config = dict(t_eps=float(t_eps), ode=ode, divergence=divergence)
    n = ys.shape[0]
    mesh = default_mesh(mesh)
    num_devices = mesh.shape["data"]
    chunk_size = n if chunk_size is None else min(chunk_size, n)
    chunk_size = -(-chunk_size // num_devices) * num_devices
    num_chunks = -(-n // chunk_size)
    # Padding repeats the first points: duplicates leave the shared steps (set by
    # the largest error) unchanged, and their results are dropped.
    index = jnp.arange(num_chunks * chunk_size) % n
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(index)
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    keys, padded = put((keys, ys[index]), sharding)
    shared = ode.shared_steps and ode.num_steps is None
    logp, stats = _log_likelihood_all(
        keys,
        padded,
        sde,
        score_fn,
        prior_log_prob,
        chunk_size,
        config,
        shared,
        sharding,
    )
    logp, stats = jax.tree_util.tree_map(lambda x: x[:n], (logp, stats))
    if not return_stats:
        return logp
    per_step, at_init = evals_per_step(ode.solver, sde=False)
    nfe = at_init + per_step * stats["num_steps"]
    if per_step < 0:
        nfe = jnp.full_like(nfe, -1)
    return logp, {"nfe": jnp.asarray(nfe, jnp.int32), **stats}
