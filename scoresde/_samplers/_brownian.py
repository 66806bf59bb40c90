r"""A Brownian path for equal fixed steps, with one key derivation per step."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._custom_types import KeyArray


class FixedStepBrownianPath(diffrax.AbstractBrownianPath):
    r"""Independent Gaussian increments on the grid $u_k = k\,\Delta u$, one
    `fold_in(key, k)` and one normal draw per step.

    Like `diffrax.UnsafeBrownianPath` (the path Diffrax recommends for fixed
    steps without backpropagation) it ignores the correlation between
    overlapping intervals, so it is only valid when every evaluation is over one
    grid step $[u_k, u_{k+1}]$ — which is what the fixed-step reverse-SDE solve
    does. It derives each step's key from the step index rather than by hashing
    the bits of both end times and splitting (two `fold_in`s and a `split` per
    step and sample), which halves the random-number work, the main cost of a
    vmapped fixed-step SDE solve beyond the score evaluations. Space-time Lévy
    area $H \sim \mathcal{N}(0, \Delta u / 12)$ is drawn when asked for.
    """

    shape_dtype: jax.ShapeDtypeStruct = eqx.field(static=True)
    dt: float
    key: KeyArray
    levy_area: type[diffrax.BrownianIncrement | diffrax.SpaceTimeLevyArea]

    @property
    def t0(self):
        return -jnp.inf

    @property
    def t1(self):
        return jnp.inf

    def evaluate(
        self, t0, t1=None, left=True, use_levy=False
    ) -> Array | diffrax.BrownianIncrement | diffrax.SpaceTimeLevyArea:
        del left
        t0 = jnp.asarray(t0)
        t1 = jnp.asarray(t1)
        step = jnp.round(t0 / self.dt).astype(jnp.int32)
        key = jax.random.fold_in(self.key, step)
        h = (t1 - t0).astype(self.shape_dtype.dtype)
        if self.levy_area is diffrax.SpaceTimeLevyArea:
            z = jax.random.normal(key, (2, *self.shape_dtype.shape), h.dtype)
            w = jnp.sqrt(h) * z[0]
            if use_levy:
                hh = jnp.sqrt(h / 12.0) * z[1]
                return diffrax.SpaceTimeLevyArea(dt=h, W=w, H=hh)
            return w
        z = jax.random.normal(key, self.shape_dtype.shape, h.dtype)
        w = jnp.sqrt(h) * z
        if use_levy:
            return diffrax.BrownianIncrement(dt=h, W=w)
        return w
