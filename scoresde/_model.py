r"""A network plus an SDE plus a parameterisation: the score model."""

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._custom_types import RealScalarLike
from ._sde import AbstractSDE
from ._validation import check_positive, is_concrete
from .nets import AbstractScoreNet


PARAMETERIZATIONS = ("score", "eps", "v", "x0")
Parameterization = Literal["score", "eps", "v", "x0"]


class ScoreModel(eqx.Module):
    r"""A score function $s_\theta(t, y) \approx \nabla_y \log p_t(y)$ made of a
    network, the SDE it was trained for, and a parameterisation.

    With $(m, s)$ = `sde.marginal(t)` (so $y_t = m\,y_0 + s\,\epsilon$), write
    $\sigma = s/m$ for the noise level in data units and $\sigma_d$ for
    `data_std`. Following EDM (Karras et al. 2022, Table 1), the network sees a
    unit-variance input and a log-noise time feature,

    $$F = F_\theta\big(c_\text{noise},\ c_\text{in}\, y\big), \qquad
    c_\text{in} = \frac{1}{\sqrt{m^2\sigma_d^2 + s^2}}, \qquad
    c_\text{noise} = \tfrac14 \log\sigma,$$

    which keeps inputs and time features in the same range for VP, sub-VP, VE
    (std from 0.01 to 50), DDPM and NCSN, so one default network fits all.
    The output $F$ becomes the score according to `parameterization`:

    | `parameterization` | network predicts | score |
    |---|---|---|
    | `"eps"` (Ho et al. 2020) | the noise $\epsilon$ | $-F/s$ |
    | `"score"` (Song et al. 2021) | the scaled score $s\,\nabla\log p_t$ | $F/s$ |
    | `"x0"` | the clean data $\hat y_0 = \sigma_d F$ | $(m\hat y_0 - y)/s^2$ |
    | `"v"` (Salimans & Ho 2022) | $v$, with $\hat y_0 = c_\text{skip}\,y/m - c_\text{out}F$ | $(m\hat y_0 - y)/s^2$ |

    where $c_\text{skip} = \sigma_d^2/(\sigma^2 + \sigma_d^2)$ and
    $c_\text{out} = \sigma\sigma_d/\sqrt{\sigma^2 + \sigma_d^2}$. For a VP SDE
    and $\sigma_d = 1$ this is exactly $v = m\,\epsilon - s\,y_0$. Every
    conversion uses the exact kernel `sde.marginal(t)` of *this* SDE, so a
    v-model's modes keep their weights. The score is singular at $s = 0$
    (time 0): evaluate at $t > 0$ (training uses $t \ge$ `t_eps`).

    **Why `"v"` is the default.** In the coordinates $x = y/m$ the
    probability-flow ODE is $\mathrm{d}x/\mathrm{d}\sigma = \hat\epsilon$ (the
    form DDIM steps), so an error $\delta$ in a predicted noise moves a sample by
    $\delta\,\Delta\sigma$: with `"eps"` (and `"score"`) the network's errors are
    amplified by $\sigma$, up to $s/m \approx 150$ at $t = 1$ for VP and sub-VP
    (Karras et al. 2022, section 5). At high noise the exact $\epsilon$ is about
    the network's input itself, and a trained network reproduces that only where
    it saw data: prior draws in the tail ($|y_T| > 3.5$ in 2-D, 0.2% of them)
    then leave the data on the ODE — 25 of 20,000 samples of an `"eps"` model of
    `nine-gaussians` landed 6 to 480 standard deviations from every mode. With
    `"v"` the Gaussian part $-y/s^2$ of the score is exact and the network enters
    through $\hat y_0$ with a factor $c_\text{out} \le \sigma_d$, so its errors
    are not amplified (the same 20,000 draws: none further than 6.6 standard
    deviations). `"eps"` remains available for models trained with it.

    **Arguments:**

    - `net`: a network from `scoresde.nets` (or any
      [`scoresde.nets.AbstractScoreNet`][]), called as
      `net(time_feature, y, label)`.
    - `sde`: the SDE whose marginals define the conversion.
    - `parameterization`: `"v"` (default), `"eps"`, `"score"` or `"x0"`.
    - `data_std`: $\sigma_d$, the data's standard deviation (default 1.0;
      pass the real one, e.g. `float(data.std())`, for data far from unit scale).

    Called as `model(t, y, label=None)` on ONE sample `y`; it is a score function
    usable by samplers and likelihoods.

    !!! example

        ```python
        import jax
        import scoresde as ss

        sde = ss.VPSDE()
        net = ss.nets.MLP((2,), key=jax.random.key(0))
        model = ss.ScoreModel(net, sde, parameterization="eps")
        score = model(0.5, jax.numpy.zeros(2))      # shape (2,)
        ```
    """

    net: AbstractScoreNet
    sde: AbstractSDE
    parameterization: str = eqx.field(static=True, default="v")
    data_std: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if not isinstance(self.net, AbstractScoreNet):
            raise TypeError(
                "`net` must be a scoresde.nets network (an AbstractScoreNet), got "
                f"{type(self.net).__name__}."
            )
        if not isinstance(self.sde, AbstractSDE):
            raise TypeError(
                f"`sde` must be a scoresde SDE (an AbstractSDE), got "
                f"{type(self.sde).__name__}."
            )
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"`parameterization` must be one of {PARAMETERIZATIONS}, got "
                f"{self.parameterization!r}."
            )
        check_positive("data_std", self.data_std)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """The shape of one sample (the network's `data_shape`)."""
        return self.net.data_shape

    def preconditioning(
        self, t: RealScalarLike
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        r"""`(c_in, c_noise)` at time `t`: the input scale
        $1/\sqrt{m^2\sigma_d^2 + s^2}$ and the time feature $\tfrac14\log(s/m)$."""
        m, s = self.sde.marginal(t)
        c_in = 1.0 / jnp.sqrt((m * self.data_std) ** 2 + s**2)
        c_noise = 0.25 * (jnp.log(s) - jnp.log(m))
        return c_in, c_noise

    def _skip_out(self, m, s):
        sigma2 = (s / m) ** 2
        sd2 = self.data_std**2
        c_skip = sd2 / (sigma2 + sd2)
        c_out = (s / m) * self.data_std / jnp.sqrt(sigma2 + sd2)
        return c_skip, c_out

    def score_from_output(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        output: Float[ArrayLike, "*shape"],
    ) -> Float[Array, "*shape"]:
        """The score that a network output `output` at `(t, y)` stands for, under
        this model's parameterisation (the table above)."""
        y = jnp.asarray(y)
        output = jnp.asarray(output)
        m, s = self.sde.marginal(t)
        p = self.parameterization
        if p == "eps":
            return -output / s
        if p == "score":
            return output / s
        if p == "x0":
            y0_hat = self.data_std * output
        else:  # "v"
            c_skip, c_out = self._skip_out(m, s)
            y0_hat = c_skip * y / m - c_out * output
        return (m * y0_hat - y) / s**2

    def output_from_score(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        score: Float[ArrayLike, "*shape"],
    ) -> Float[Array, "*shape"]:
        """The inverse of [`scoresde.ScoreModel.score_from_output`][]: the network
        output that would give `score` at `(t, y)` (the regression target of
        each parameterisation, given the true score)."""
        y = jnp.asarray(y)
        score = jnp.asarray(score)
        m, s = self.sde.marginal(t)
        p = self.parameterization
        if p == "eps":
            return -s * score
        if p == "score":
            return s * score
        y0_hat = (y + s**2 * score) / m  # Tweedie's formula
        if p == "x0":
            return y0_hat / self.data_std
        c_skip, c_out = self._skip_out(m, s)
        return (c_skip * y / m - y0_hat) / c_out

    def __call__(
        self,
        t: RealScalarLike,
        y: Float[ArrayLike, "*shape"],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "*shape"]:
        y = jnp.asarray(y)
        self._check_call(y, label)
        c_in, c_noise = self.preconditioning(t)
        output = self.net(c_noise, (c_in * y).astype(y.dtype), label)
        return self.score_from_output(t, y, output).astype(y.dtype)

    def _check_call(self, y: Array, label) -> None:
        """One sample of the network's shape; a label only for a conditional
        network, in 0..num_classes (num_classes is the null label)."""
        shape = tuple(self.net.data_shape)
        if y.shape != shape:
            raise ValueError(
                f"`y` must be ONE sample of shape {shape} (the network's "
                f"`data_shape`), got shape {y.shape}; make batches with jax.vmap."
            )
        if label is None:
            return
        num_classes = self.net.num_classes
        if num_classes is None:
            raise ValueError(
                "`label` given, but the network is unconditional (built without "
                "`num_classes`); pass label=None."
            )
        if is_concrete(label):
            value = np.asarray(label)
            if value.ndim != 0 or not 0 <= int(value) <= num_classes:
                raise ValueError(
                    f"`label` must be an integer in 0..{num_classes} "
                    f"({num_classes} = no label), got {value.tolist()!r}."
                )
