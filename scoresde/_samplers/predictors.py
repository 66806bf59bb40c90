r"""Predictors of predictor-corrector sampling (Song et al. 2021, Algorithms 4
and 5): one step of a reverse-time SDE solver."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._sde import AbstractSDE


Score = Callable[[Array, Array], Array]


class AbstractPredictor(eqx.Module):
    """A predictor: one step of a reverse-time SDE solver from `t` down to `t_next`,
    using one score evaluation and one standard normal draw `z` of the sample's
    shape."""

    @abc.abstractmethod
    def __call__(
        self,
        sde: AbstractSDE,
        score: Score,
        t: Array,
        t_next: Array,
        y: Array,
        z: Array,
    ) -> Array:
        """Return the state at `t_next`, given the state `y` at `t` and the step's
        noise `z` ~ N(0, I)."""


class ReverseDiffusionPredictor(AbstractPredictor):
    r"""The reverse-diffusion predictor of Song et al. (2021, eq. 47 and
    Algorithms 4/5): with the forward step from $t_\text{next}$ to $t$ written as
    $y_t = r\,y_{t_\text{next}} + G z$ ($r = m(t)/m(t_\text{next})$,
    $G^2 = s(t)^2 - r^2 s(t_\text{next})^2$ from the SDE's exact kernel),

    $$y_{t_\text{next}} = y_t - (r - 1)\,y_t + G^2\, s_\theta(t, y_t) + G z.$$

    For a VE SDE this is $y + (\sigma_t^2 - \sigma_{t_\text{next}}^2)\,s_\theta
    + \sqrt{\sigma_t^2 - \sigma_{t_\text{next}}^2}\,z$ (Song et al. eq. 47); for a
    VP SDE, $G^2 = \beta_i$ and $r = \sqrt{1 - \beta_i}$ as in DDPM."""

    def __call__(self, sde, score, t, t_next, y, z):
        m, s = sde.marginal(t)
        m_next, s_next = sde.marginal(t_next)
        r = m / m_next
        g2 = jnp.maximum(s**2 - (r * s_next) ** 2, 0.0)
        y_next = y - (r - 1.0) * y + g2 * score(t, y) + jnp.sqrt(g2) * z
        return y_next.astype(y.dtype)


class EulerMaruyamaPredictor(AbstractPredictor):
    r"""The Euler-Maruyama predictor: one step of the reverse-time SDE,
    $y_{t_\text{next}} = y_t - \big[f(y_t, t) - g(t)^2 s_\theta(t, y_t)\big]\Delta t
    + g(t)\sqrt{\Delta t}\, z$ with $\Delta t = t - t_\text{next} > 0$."""

    def __call__(self, sde, score, t, t_next, y, z):
        dt = t - t_next
        drift = sde.reverse_drift(t, y, score(t, y))
        y_next = y - drift * dt + sde.diffusion(t) * jnp.sqrt(dt) * z
        return y_next.astype(y.dtype)
