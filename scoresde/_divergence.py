r"""Divergences of vector fields: exact (one JVP per basis vector) and the
Hutchinson–Skilling trace estimator, as functions and as the estimator objects
that `log_likelihood` takes.

Both take a per-sample vector field `fn: y -> like y` and return the pair
`(fn(y), div)`, so the field is evaluated once together with its divergence."""

import abc
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._custom_types import KeyArray
from ._validation import check_int


#: The probe distributions of the Hutchinson estimator.
PROBES = ("rademacher", "gaussian")


def exact_divergence(
    fn: Callable[[Array], Array], y: Float[Array, "*shape"]
) -> tuple[Float[Array, "*shape"], Float[Array, ""]]:
    r"""The value $F(y)$ and the exact divergence
    $\nabla\cdot F(y) = \operatorname{tr} \partial F/\partial y
    = \sum_{i=1}^d e_i^\top \tfrac{\partial F}{\partial y} e_i$, computed as $d$
    forward-mode Jacobian-vector products (one per basis vector $e_i$, batched
    with `vmap`; the primal $F(y)$ is computed once). Costs about $d$
    evaluations of $F$, so it is meant for small $d$.
    """
    d = y.size
    basis = jnp.eye(d, dtype=y.dtype).reshape((d,) + y.shape)

    def jvp(v):
        return jax.jvp(fn, (y,), (v,))

    values, tangents = jax.vmap(jvp, out_axes=(None, 0))(basis)
    # Row i is J e_i; its i-th entry is the diagonal element J_ii.
    return values, jnp.trace(tangents.reshape(d, d))


def hutchinson_divergence(
    fn: Callable[[Array], Array],
    y: Float[Array, "*shape"],
    probes: Float[Array, " num_probes *shape"],
) -> tuple[Float[Array, "*shape"], Float[Array, ""]]:
    r"""The value $F(y)$ and the Hutchinson–Skilling estimate of its divergence
    (Hutchinson 1990; Skilling 1989; Grathwohl et al. 2019),

    $$\nabla\cdot F(y) \approx \frac1M \sum_{m=1}^M \varepsilon_m^\top
    \frac{\partial F}{\partial y}\,\varepsilon_m,$$

    unbiased whenever the probes have $\mathbb{E}[\varepsilon\varepsilon^\top] = I$
    (Rademacher or standard Gaussian). One forward-mode Jacobian-vector product
    per probe.
    """

    def jvp(v):
        return jax.jvp(fn, (y,), (v,))

    values, tangents = jax.vmap(jvp, out_axes=(None, 0))(probes)
    num_probes = probes.shape[0]
    quad = jnp.sum(
        (tangents * probes).reshape(num_probes, -1), axis=1, dtype=tangents.dtype
    )
    return values, jnp.mean(quad)


class AbstractDivergence(eqx.Module):
    r"""How [`scoresde.log_likelihood`][] computes the divergence
    $\nabla\cdot F$ of the probability-flow vector field: an object, as Lineax's
    solvers are. [`scoresde.ExactDivergence`][] and [`scoresde.Hutchinson`][]
    are the estimators; [`scoresde.AutoDivergence`][] (the default) picks one by
    the data's dimension."""

    @abc.abstractmethod
    def draw_probes(self, key: KeyArray, shape: tuple[int, ...], dtype) -> Array | None:
        """The random probes of one sample (held fixed along its solve), or
        `None` for a deterministic estimator."""

    @abc.abstractmethod
    def __call__(
        self, fn: Callable[[Array], Array], y: Array, probes: Array | None
    ) -> tuple[Array, Array]:
        """`(fn(y), divergence of fn at y)`."""


class ExactDivergence(AbstractDivergence):
    r"""The exact divergence: $d$ forward-mode Jacobian-vector products, one per
    basis vector (see `exact_divergence`). Costs about $d$ evaluations of the
    vector field per step; meant for small $d$."""

    def draw_probes(self, key, shape, dtype) -> None:
        return None

    def __call__(self, fn, y, probes):
        return exact_divergence(fn, y)


class Hutchinson(AbstractDivergence):
    r"""The Hutchinson–Skilling estimator
    $\frac1M\sum_m \varepsilon_m^\top \tfrac{\partial F}{\partial y}\varepsilon_m$
    (Hutchinson 1990; Skilling 1989; Grathwohl et al. 2019), with $M$ =
    `num_probes` probes drawn once per sample and held fixed along its solve, so
    the log-likelihood is an unbiased estimate of the exact-trace one.

    **Arguments:**

    - `num_probes`: $M \ge 1$ (default 1).
    - `probe`: `"rademacher"` (default; lower variance) or `"gaussian"`.
    """

    num_probes: int = 1
    probe: str = "rademacher"

    def __check_init__(self):
        check_int("num_probes", self.num_probes, minimum=1)
        if self.probe not in PROBES:
            raise ValueError(
                f"`probe` must be one of {', '.join(map(repr, PROBES))}, got "
                f"{self.probe!r}."
            )

    def draw_probes(self, key, shape, dtype) -> Array:
        full = (self.num_probes,) + tuple(shape)
        if self.probe == "rademacher":
            return jax.random.rademacher(key, full, dtype=dtype)
        return jax.random.normal(key, full, dtype=dtype)

    def __call__(self, fn, y, probes):
        return hutchinson_divergence(fn, y, probes)


class AutoDivergence(AbstractDivergence):
    r"""[`scoresde.ExactDivergence`][] for data of at most `max_exact_dim`
    coordinates (default 64), else `hutchinson` (default
    [`scoresde.Hutchinson`][]`()`)."""

    max_exact_dim: int = 64
    hutchinson: Hutchinson = Hutchinson()

    def __check_init__(self):
        check_int("max_exact_dim", self.max_exact_dim, minimum=0)

    def select(self, dim: int) -> ExactDivergence | Hutchinson:
        """The estimator used for data of `dim` coordinates."""
        return ExactDivergence() if dim <= self.max_exact_dim else self.hutchinson

    def draw_probes(self, key, shape, dtype):
        return self.select(math.prod(shape)).draw_probes(key, shape, dtype)

    def __call__(self, fn, y, probes):
        return self.select(y.size)(fn, y, probes)
