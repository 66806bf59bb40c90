r"""A Brownian path for equal fixed steps, from a counter-based normal stream."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._noise import NormalStream


class FixedStepBrownianPath(diffrax.AbstractBrownianPath):
    r"""Independent Gaussian increments on the grid $u_k = k\,\Delta u$: the
    increment over step $k$ is draw $k$ of a counter-based normal stream (see
    `NormalStream`), with no key derivation per step.

    Like `diffrax.UnsafeBrownianPath` (the path Diffrax recommends for fixed
    steps without backpropagation) it ignores the correlation between
    overlapping intervals, so it is only valid when every evaluation is over one
    grid step $[u_k, u_{k+1}]$ — which is what the fixed-step reverse-SDE solve
    does. Deriving each step's numbers from a counter rather than from a key
    hashed from both end times (two `fold_in`s and a `split` per step and
    sample) cuts the random-number work, the main cost of a vmapped fixed-step
    SDE solve beyond the score evaluations, by a factor of 1.6 in one
    dimension. Space-time Lévy area $H \sim \mathcal{N}(0, \Delta u / 12)$ is
    drawn when asked for.
    """

    shape_dtype: jax.ShapeDtypeStruct = eqx.field(static=True)
    dt: float
    stream: NormalStream
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
        shape, dtype = self.shape_dtype.shape, self.shape_dtype.dtype
        h = (t1 - t0).astype(dtype)
        if self.levy_area is diffrax.SpaceTimeLevyArea:
            z = self.stream.normal(step, (2, *shape), dtype)
            w = jnp.sqrt(h) * z[0]
            if use_levy:
                hh = jnp.sqrt(h / 12.0) * z[1]
                return diffrax.SpaceTimeLevyArea(dt=h, W=w, H=hh)
            return w
        w = jnp.sqrt(h) * self.stream.normal(step, shape, dtype)
        if use_levy:
            return diffrax.BrownianIncrement(dt=h, W=w)
        return w
