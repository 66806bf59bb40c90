"""Shared test helpers: the SDEs to parametrise over."""

import scoresde as ss


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
