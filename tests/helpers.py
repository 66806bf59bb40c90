"""Shared test helpers: tree comparisons and the SDEs to parametrise over."""

import jax
import jax.numpy as jnp
import numpy as np

import scoresde as ss


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8):
    xs, ys = jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y)
    if len(xs) != len(ys):
        return False
    return all(np.allclose(a, b, rtol=rtol, atol=atol) for a, b in zip(xs, ys))


def all_sdes():
    """One instance of every SDE, with ids for pytest."""
    return {
        "vp": ss.VPSDE(beta_min=0.1, beta_max=20.0),
        "subvp": ss.SubVPSDE(beta_min=0.1, beta_max=20.0),
        "ve": ss.VESDE(sigma_min=0.01, sigma_max=50.0),
        "cosine": ss.CosineVPSDE(),
        "ddpm": ss.DDPM.linear(num_steps=50, beta_start=1e-3, beta_end=0.3),
        "ncsn": ss.NCSN.geometric(sigma_min=0.01, sigma_max=10.0, num_steps=40),
    }


def continuous_sdes():
    return {k: v for k, v in all_sdes().items() if k not in ("ddpm", "ncsn")}


def mode_weights(mixture, ys):
    """Mean posterior responsibility of each component over samples `ys`: an
    unbiased estimate of the weights the samples carry."""
    return jnp.mean(jax.vmap(mixture.responsibilities)(ys), axis=0)
