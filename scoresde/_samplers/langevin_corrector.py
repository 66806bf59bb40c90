r"""The Langevin corrector of predictor-corrector sampling (Song et al. 2021,
Algorithms 4 and 5)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._validation import check_int, check_positive, is_concrete
from .base import SAMPLE_AXIS


class LangevinCorrector(eqx.Module):
    r"""The Langevin corrector of Song et al. (2021, Algorithms 4 and 5): at time
    $t$, repeat `corrector_steps` times

    $$\epsilon = 2\alpha\Big(\frac{r\,\lVert z\rVert_2}{\lVert s_\theta(t, y)
    \rVert_2}\Big)^2, \qquad y \leftarrow y + \epsilon\, s_\theta(t, y)
    + \sqrt{2\epsilon}\, z,\quad z \sim \mathcal{N}(0, I),$$

    where $r$ is the signal-to-noise ratio `snr` and $\alpha$ is $1 - \beta_i$ of
    the step just taken for VP-type SDEs ($m(t_\text{prev})^2 / m(t)^2$; exactly 1
    for VE).

    The two norms are averaged over the batch before the ratio is taken, as in
    the authors' code (`score_sde`, `LangevinCorrector`), so every sample of a
    batch takes the same step $\epsilon$. With per-sample norms the step is
    state-dependent and, in low dimension, unbounded where the score vanishes
    (between modes), which breaks the chain's invariance: on `mixture-1d` it
    moves half of the middle mode's mass into the outer ones. The batch is the
    chunk that [`scoresde.sample`][] `vmap`s over (the `vmap` axis
    `"samples"`); outside such a `vmap` the norms are per sample.

    Called as `corrector(sde, score, t, t_prev, y, noise)`, where `noise(i)` is
    the $i$-th standard normal draw of the sample's shape ($i$ <
    `corrector_steps`).
    """

    snr: float
    corrector_steps: int

    def __check_init__(self):
        check_positive("snr", self.snr)  # (built inside jit by PredictorCorrector)
        if is_concrete(self.corrector_steps):
            check_int("corrector_steps", self.corrector_steps, minimum=0)

    def __call__(self, sde, score, t, t_prev, y, noise):
        m, _ = sde.marginal(t)
        m_prev, _ = sde.marginal(t_prev)
        alpha = (m_prev / m) ** 2

        def body(i, y):
            z = noise(i)
            grad = score(t, y)
            grad_norm = _batch_mean(jnp.sqrt(jnp.sum(grad**2)))
            noise_norm = _batch_mean(jnp.sqrt(jnp.sum(z**2)))
            eps = 2.0 * alpha * (self.snr * noise_norm / grad_norm) ** 2
            return (y + eps * grad + jnp.sqrt(2.0 * eps) * z).astype(y.dtype)

        return jax.lax.fori_loop(0, self.corrector_steps, body, y)


def _batch_mean(x: Array) -> Array:
    """The mean of `x` over the samples being `vmap`ped (axis `SAMPLE_AXIS`), or
    `x` itself outside such a `vmap`."""
    try:
        return jax.lax.pmean(x, SAMPLE_AXIS)
    except NameError:
        return x
