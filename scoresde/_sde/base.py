r"""The abstract SDE: $\mathrm{d}y = f(y, t)\,\mathrm{d}t + g(t)\,\mathrm{d}w$ on $[0, T]$."""

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import KeyArray, RealScalarLike, default_float
from .._validation import check_shape, check_time


class AbstractSDE(eqx.Module):
    r"""Base class for the forward SDEs of score-based generative modelling.

    Every SDE in scoresde is *linear* (affine drift, state-independent
    diffusion), which is what makes its transition kernel Gaussian and exact:

    $$\mathrm{d}y = a(t)\, y\, \mathrm{d}t + g(t)\, \mathrm{d}w, \qquad t \in [0, T],$$

    so that $y_t \mid y_0 \sim \mathcal{N}(m(t)\, y_0,\ s(t)^2 I)$ with
    $m(t) = \exp\int_0^t a$ (`mean_coeff`) and
    $s(t)^2 = m(t)^2 \int_0^t g(u)^2 / m(u)^2 \,\mathrm{d}u$ (`std` squared).

    All methods are per-sample: `y` is ONE sample of any shape and `t` a scalar
    time; batch with `jax.vmap`. Time comes first, as in Diffrax's vector fields.

    Subclasses implement [`scoresde.AbstractSDE.drift_coefficient`][],
    [`scoresde.AbstractSDE.diffusion`][], [`scoresde.AbstractSDE.marginal`][] and
    the property `prior_std`.
    """

    T: ClassVar[float] = 1.0

    @abc.abstractmethod
    def drift_coefficient(self, t: RealScalarLike) -> Float[Array, ""]:
        """The scalar $a(t)$ of the linear drift $f(y, t) = a(t)\\, y$."""

    @abc.abstractmethod
    def diffusion(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"] | None = None
    ) -> Float[Array, ""]:
        """The diffusion coefficient $g(t)$, a scalar (the same for every
        coordinate). `y` is accepted for Diffrax-style signatures and ignored."""

    @abc.abstractmethod
    def marginal(self, t: RealScalarLike) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The exact transition kernel from time 0:
        $y_t \\mid y_0 \\sim \\mathcal{N}(\\text{mean\\_coeff}\\cdot y_0,\\
        \\text{std}^2 I)$.

        **Arguments:**

        - `t`: a scalar time in $[0, T]$. A concrete time outside $[0, T]$ (or
          NaN) raises a `ValueError`, here and in `drift` and `diffusion`;
          inside `jit` times are not checked.

        **Returns:**

        `(mean_coeff, std)`, two scalar arrays.
        """

    @property
    @abc.abstractmethod
    def prior_std(self) -> RealScalarLike:
        """Standard deviation of the prior $\\mathcal{N}(0, \\text{prior\\_std}^2 I)$
        that stands in for $p_T$."""

    def drift(
        self, t: RealScalarLike, y: Float[ArrayLike, "*shape"]
    ) -> Float[Array, "*shape"]:
        """The drift $f(y, t) = a(t)\\, y$, of the same shape as `y`."""
        check_time(t, self.T)
        y = jnp.asarray(y)
        return (self.drift_coefficient(t) * y).astype(y.dtype)

    def reverse_drift(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        score: Float[ArrayLike, "*shape"],
    ) -> Float[Array, "*shape"]:
        r"""The drift of the reverse-time SDE (Anderson 1982; Song et al. 2021,
        eq. 6), $f(y, t) - g(t)^2\, s$, where `score` is the value
        $s \approx \nabla_y \log p_t(y)$ at `(t, y)`. Integrated from $T$ down to
        0 with noise $g(t)\,\mathrm{d}\bar w$."""
        g = self.diffusion(t, y)
        return self.drift(t, y) - g**2 * jnp.asarray(score)

    def probability_flow_drift(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        score: Float[ArrayLike, "*shape"],
    ) -> Float[Array, "*shape"]:
        r"""The vector field of the probability-flow ODE (Song et al. 2021, eq. 13),
        $f(y, t) - \tfrac12 g(t)^2\, s$, where `score` is the value
        $s \approx \nabla_y \log p_t(y)$ at `(t, y)`. Its solutions share the
        SDE's marginals $p_t$."""
        g = self.diffusion(t, y)
        return self.drift(t, y) - 0.5 * g**2 * jnp.asarray(score)

    def prior_sample(
        self, key: KeyArray, shape: tuple[int, ...]
    ) -> Float[Array, "..."]:
        """Draw from the prior $\\mathcal{N}(0, \\text{prior\\_std}^2 I)$.

        **Arguments:**

        - `key`: a JAX PRNG key.
        - `shape`: the full shape of the draw, e.g. `(num_samples, *data_shape)`.
        """
        shape = check_shape("shape", shape)
        return self.prior_std * jax.random.normal(key, shape)

    def prior_log_prob(self, y: Float[ArrayLike, "*shape"]) -> Float[Array, ""]:
        """Log-density of ONE sample `y` under the prior
        $\\mathcal{N}(0, \\text{prior\\_std}^2 I)$, summed over all coordinates."""
        y = jnp.asarray(y)
        s = self.prior_std
        d = y.size
        return -0.5 * jnp.sum(y**2) / s**2 - d * (
            jnp.log(s) + 0.5 * math.log(2 * math.pi)
        )


#: Round-offs of $tN$ (in units of machine epsilon times $N$) within which a time
#: counts as the grid point below it; see `AbstractDiscreteSDE.step_index`.
STEP_TOLERANCE = 4


class AbstractDiscreteSDE(AbstractSDE):
    """An SDE whose coefficients are piecewise constant on the grid
    $t_i = i / N$, $i = 0, \\dots, N$, chosen so that its marginals are exact at
    the grid points (the discrete DDPM and NCSN models as SDEs)."""

    @property
    @abc.abstractmethod
    def num_steps(self) -> int:
        """$N$, the number of discrete steps."""

    @abc.abstractmethod
    def continuous_limit(self) -> AbstractSDE:
        """The continuous SDE this one discretises: what a model trained on the
        discrete schedule is evaluated under where a continuous SDE is needed
        (e.g. [`scoresde.log_likelihood`][], as Song et al. 2021 do for DDPM
        checkpoints)."""

    @property
    def ts(self) -> Float[Array, " num_steps"]:
        """The grid $t_i = i / N$ for $i = 1, \\dots, N$ (step $i$ ends at $t_i$)."""
        return jnp.arange(1, self.num_steps + 1, dtype=default_float()) / self.num_steps

    def step_index(self, t: RealScalarLike) -> Array:
        r"""The 0-based index $i - 1$ of the step $(t_{i-1}, t_i]$ holding `t`,
        clipped to $[0, N - 1]$. A grid point $t_i$ belongs to step $i$.

        A time within `STEP_TOLERANCE` round-offs of $tN$ above a grid point
        ($tN - i \le 4\,\varepsilon N$, $\varepsilon$ the machine epsilon of
        `t`'s dtype: $4.8\times10^{-4}$ of a step for float32 and $N = 1000$)
        counts as that grid point, so that $t_i$ computed in floating point (as
        `i / N`, `1 - k / N`, ...) maps to step $i$; anything further inside step
        $i + 1$ gets step $i + 1$'s coefficients."""
        n = self.num_steps
        scaled = jnp.asarray(t, jnp.result_type(t, float)) * n
        tolerance = STEP_TOLERANCE * jnp.finfo(scaled.dtype).eps * n
        idx = jnp.ceil(scaled - tolerance) - 1
        return jnp.clip(idx, 0, n - 1).astype(jnp.int32)
