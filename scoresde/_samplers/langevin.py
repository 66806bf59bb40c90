r"""Plain Langevin dynamics with a fixed, time-independent score."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import KeyArray
from .._validation import check_int, check_positive


def langevin(
    key: KeyArray,
    score_fn: Callable[[Array], Array],
    y_init: Float[ArrayLike, " n *shape"],
    *,
    step_size: float,
    num_steps: int,
) -> Float[Array, " n *shape"]:
    r"""Unadjusted Langevin dynamics with a fixed score $\nabla_y \log p(y)$
    (Song's blog post on score-based models; Roberts & Tweedie 1996):

    $$y \leftarrow y + \epsilon\, \nabla_y \log p(y) + \sqrt{2\epsilon}\, z,
    \qquad z \sim \mathcal{N}(0, I),$$

    repeated `num_steps` times from `y_init`. For small $\epsilon$ and many steps
    the samples approach $p$ (with a bias of order $\epsilon$, since there is no
    Metropolis correction).

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `score_fn`: a time-independent score `score_fn(y)` taking ONE sample.
    - `y_init`: the starting points, a batch of shape `(n, *shape)`.
    - `step_size`: $\epsilon > 0$.
    - `num_steps`: the number of steps.

    **Returns:**

    The final states, of the shape of `y_init`.

    !!! example

        ```python
        import jax
        import jax.numpy as jnp
        import scoresde as ss

        mix = ss.datasets.get("mixture-1d")
        y = ss.langevin(jax.random.key(0), mix.score, jnp.zeros((1000, 1)),
                        step_size=0.01, num_steps=1000)
        ```
    """
    check_positive("step_size", step_size)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    if not callable(score_fn):
        raise TypeError(f"`score_fn` must be callable, got {score_fn!r}.")
    y_init = jnp.asarray(y_init)
    if y_init.ndim < 1 or not jnp.issubdtype(y_init.dtype, jnp.floating):
        raise ValueError(
            "`y_init` must be a floating-point batch of shape (n, *shape), got "
            f"shape {y_init.shape} and dtype {y_init.dtype}."
        )
    out = jax.eval_shape(score_fn, jax.ShapeDtypeStruct(y_init.shape[1:], y_init.dtype))
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != y_init.shape[1:]:
        got = out.shape if isinstance(out, jax.ShapeDtypeStruct) else out
        raise ValueError(
            f"`score_fn` must return the shape of one sample {y_init.shape[1:]}, got "
            f"{got}."
        )
    return _langevin(key, score_fn, y_init, step_size, num_steps)


@eqx.filter_jit
def _langevin(key, score_fn, y, step_size, num_steps):
    batched_score = jax.vmap(score_fn)

    def body(i, y):
        z = jax.random.normal(jax.random.fold_in(key, i), y.shape, y.dtype)
        y = y + step_size * batched_score(y) + jnp.sqrt(2.0 * step_size) * z
        return y.astype(z.dtype)

    return jax.lax.fori_loop(0, num_steps, body, y)
