r"""Weightings $\lambda(t)$ of denoising score matching, and how $t$ is drawn."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._custom_types import KeyArray, RealScalarLike, default_float
from ._registry import Registry
from ._sde import AbstractDiscreteSDE, AbstractSDE
from ._time_sampling import AbstractTimeSampling, IIDTimes
from ._validation import check_positive


def uniform_times(
    sde: AbstractSDE,
    key: KeyArray,
    n: int,
    t_eps: float,
    time_sampling: AbstractTimeSampling,
) -> Float[Array, " n"]:
    r"""`n` times, uniform on $[t_\varepsilon, T]$ for continuous SDEs and on the
    grid $\{1/N, \dots, 1\}$ for DDPM / NCSN, from `time_sampling`'s numbers."""
    u = time_sampling.uniforms(key, n)
    if isinstance(sde, AbstractDiscreteSDE):
        num = sde.num_steps
        index = jnp.clip(jnp.floor(u * num), 0, num - 1) + 1
        t = index / num
    else:
        t = t_eps + (sde.T - t_eps) * u
    return t.astype(default_float())


class AbstractWeighting(eqx.Module):
    r"""A weighting $\lambda(t)$ of the denoising score-matching loss

    $$\mathcal{L}(\theta) = \mathbb{E}_{t}\, \lambda(t)\,
    \mathbb{E}_{y_0, \epsilon}\big\| s_\theta(t, y_t) - \nabla_{y_t}\log p(y_t\mid y_0)
    \big\|^2, \qquad y_t = m(t)\,y_0 + s(t)\,\epsilon,$$

    where $\nabla_{y_t}\log p(y_t \mid y_0) = -\epsilon/s(t)$, and of how $t$ is
    drawn.

    Subclasses implement `__call__(sde, t) -> lambda(t)` and `sample_times`;
    [`scoresde.AbstractUniformTimeWeighting`][] fills in the second with uniform
    times.
    """

    @abc.abstractmethod
    def __call__(self, sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
        r"""$\lambda(t)$ for `sde`."""

    @abc.abstractmethod
    def sample_times(
        self,
        sde: AbstractSDE,
        key: KeyArray,
        n: int,
        t_eps: float,
        time_sampling: AbstractTimeSampling = IIDTimes(),
    ) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        r"""Draw `n` times and their importance weights $w$ (the loss uses
        $w\,\lambda(t)\,\|\cdot\|^2$ so that its mean is unbiased for
        $\mathbb{E}_{t\sim U}\lambda(t)\|\cdot\|^2$)."""


class AbstractUniformTimeWeighting(AbstractWeighting):
    r"""A weighting whose times are uniform: $t \sim U(t_\varepsilon, T)$ for
    continuous SDEs and uniform on the grid $\{1/N, \dots, 1\}$ for DDPM /
    NCSN, with importance weights $w = 1$."""

    def sample_times(
        self,
        sde: AbstractSDE,
        key: KeyArray,
        n: int,
        t_eps: float,
        time_sampling: AbstractTimeSampling = IIDTimes(),
    ) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        t = uniform_times(sde, key, n, t_eps, time_sampling)
        return t, jnp.ones_like(t)


class ScoreWeighting(AbstractUniformTimeWeighting):
    r"""$\lambda(t) = s(t)^2$ (Song et al. 2021; Song & Ermon 2019 for NCSN): the
    loss becomes $\mathbb{E}\,\|s(t)\,s_\theta(t, y_t) + \epsilon\|^2$, which is
    also Ho et al.'s (2020) "simple" loss $\|\hat\epsilon - \epsilon\|^2$ for
    $\hat\epsilon = -s\,s_\theta$ (the name `"eps"` gives this weighting)."""

    def __call__(self, sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
        return sde.marginal(t)[1] ** 2


class VWeighting(AbstractUniformTimeWeighting):
    r"""The loss $\|\hat v - v\|^2$ of v-prediction (Salimans & Ho 2022), for
    $v$ as defined in [`scoresde.ScoreModel`][]:
    $\lambda(t) = s^2(\sigma^2 + \sigma_d^2)/\sigma_d^2$ with $\sigma = s/m$ — for a
    VP SDE and $\sigma_d = 1$ that is $s^2/m^2 = s^2(1 + 1/\mathrm{SNR})$, the
    "SNR + 1" weighting in terms of $\hat y_0$.

    **Arguments:**

    - `data_std`: $\sigma_d$ (default 1.0; `dsm_loss` uses the model's).
    """

    data_std: float = 1.0

    def __check_init__(self):
        check_positive("data_std", self.data_std)

    def __call__(self, sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
        m, s = sde.marginal(t)
        return s**2 * ((s / m) ** 2 + self.data_std**2) / self.data_std**2


class LikelihoodWeighting(AbstractWeighting):
    r"""Likelihood weighting $\lambda(t) = g(t)^2$ (Song, Durkan, Murray & Ermon
    2021, Theorem 1): then
    $\tfrac12 (T - t_\varepsilon)\,\mathcal{L}$ is the score-matching part of an
    upper bound on the negative log-likelihood,
    $-\log p_0(y_0) \le \tfrac12\int g^2\,\mathbb{E}\|s_\theta - \nabla\log
    p(y_t\mid y_0)\|^2\,\mathrm{d}t + \text{terms free of } \theta$.

    With uniform $t$ this estimator has enormous variance ($g^2/s^2$ blows up
    as $t \to 0$), so for continuous SDEs $t$ is importance-sampled from
    $q(t) \propto g(t)^2/s(t)^2$. Since $\frac{\mathrm{d}}{\mathrm{d}t}\log\sigma(t)^2
    = g(t)^2/s(t)^2$ for every linear SDE ($\sigma = s/m$), that is: draw
    $\log\sigma^2$ uniformly between its values at $t_\varepsilon$ and $T$, and
    invert by bisection. The per-sample term is then
    $Z\,\|s\,s_\theta + \epsilon\|^2/(T - t_\varepsilon)$ with
    $Z = \log\sigma^2(T) - \log\sigma^2(t_\varepsilon)$.

    **Arguments:**

    - `importance_sampling`: draw $t$ from $q$ (default `True`). Ignored for
      DDPM / NCSN, whose times come from the grid.
    """

    importance_sampling: bool = True

    def __check_init__(self):
        if not isinstance(self.importance_sampling, bool):
            raise TypeError(
                "`importance_sampling` must be a bool, got "
                f"{self.importance_sampling!r}."
            )

    def __call__(self, sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
        return sde.diffusion(t) ** 2

    def sample_times(
        self,
        sde: AbstractSDE,
        key: KeyArray,
        n: int,
        t_eps: float,
        time_sampling: AbstractTimeSampling = IIDTimes(),
    ) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        dtype = default_float()
        if not self.importance_sampling or isinstance(sde, AbstractDiscreteSDE):
            t = uniform_times(sde, key, n, t_eps, time_sampling)
            return t, jnp.ones_like(t)

        def log_sigma2(t):
            m, s = sde.marginal(t)
            return 2.0 * (jnp.log(s) - jnp.log(m))

        lo_value = log_sigma2(jnp.asarray(t_eps, dtype))
        hi_value = log_sigma2(jnp.asarray(sde.T, dtype))
        z = hi_value - lo_value
        target = lo_value + z * time_sampling.uniforms(key, n)

        def bisect(value):
            def body(_, bounds):
                lo, hi = bounds
                mid = 0.5 * (lo + hi)
                below = log_sigma2(mid) < value
                return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

            lo, hi = jax.lax.fori_loop(
                0, 40, body, (jnp.asarray(t_eps, dtype), jnp.asarray(sde.T, dtype))
            )
            return 0.5 * (lo + hi)

        t = jax.vmap(bisect)(target)
        s2 = jax.vmap(lambda ti: sde.marginal(ti)[1] ** 2)(t)
        g2 = jax.vmap(self.__call__, in_axes=(None, 0))(sde, t)
        # w = 1 / ((T - t_eps) q(t)),  q = g^2 / (s^2 Z).
        weight = z * s2 / (g2 * (sde.T - t_eps))
        return t, weight.astype(dtype)


class FunctionWeighting(AbstractUniformTimeWeighting):
    r"""A weighting given by your own function `fn(sde, t) -> lambda(t)`, with
    $t$ drawn uniformly (or from the grid for DDPM / NCSN). A plain function
    passed as `weighting=` to [`scoresde.dsm_loss`][] is wrapped in this."""

    fn: Callable

    def __check_init__(self):
        if not callable(self.fn):
            raise TypeError(
                f"`fn` must be a function (sde, t) -> lambda(t), got {self.fn!r}."
            )

    def __call__(self, sde: AbstractSDE, t: RealScalarLike) -> Float[Array, ""]:
        return jnp.asarray(self.fn(sde, t))


#: Named weightings: what `weighting="name"` and `scoresde train --weighting` mean.
#: Each builder takes the model's `data_std` (used by the v weighting).
WEIGHTINGS: Registry[AbstractWeighting] = Registry("weighting")
WEIGHTINGS.register(
    "score", lambda data_std: ScoreWeighting(), "lambda = s(t)^2 (Song et al. 2021)"
)
WEIGHTINGS.register(
    "eps", lambda data_std: ScoreWeighting(), "the same as score: the eps-MSE"
)
WEIGHTINGS.register(
    "v", lambda data_std: VWeighting(data_std=data_std), "the v-prediction MSE"
)
WEIGHTINGS.register(
    "likelihood",
    lambda data_std: LikelihoodWeighting(),
    "lambda = g(t)^2 with importance sampling (Song et al. 2021b)",
)
WEIGHTING_NAMES = WEIGHTINGS.names


def as_weighting(weighting, data_std: float = 1.0) -> AbstractWeighting:
    """A weighting from a registered name, an `AbstractWeighting` or a function."""
    if isinstance(weighting, AbstractWeighting):
        return weighting
    if isinstance(weighting, str):
        if weighting not in WEIGHTINGS:
            raise ValueError(
                f"`weighting` must be one of {WEIGHTING_NAMES}, an AbstractWeighting "
                f"or a function (sde, t) -> lambda, got {weighting!r}."
            )
        return WEIGHTINGS.build(weighting, data_std)
    if callable(weighting):
        return FunctionWeighting(weighting)
    raise TypeError(
        f"`weighting` must be one of {WEIGHTING_NAMES}, an AbstractWeighting or a "
        f"function (sde, t) -> lambda, got {type(weighting).__name__}."
    )
