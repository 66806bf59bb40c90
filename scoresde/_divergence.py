r"""Divergences of vector fields: exact (one JVP per basis vector) and the
Hutchinson–Skilling trace estimator.

Both take a per-sample vector field `fn: y -> like y` and return the pair
`(fn(y), div)`, so the field is evaluated once together with its divergence."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


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
