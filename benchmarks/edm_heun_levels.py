"""Why EDM's Heun sampler puts samples far from the data with few noise levels.

On mixture-1d with the exact score and the VP SDE (beta 0.1..20, t_eps = 1e-3),
20,000 samples for each number of levels N (NFE 2N - 1):

- the outliers (more than 6 standard deviations from every component) of
  `ss.EDMHeun(N)`, next to those of Karras et al.'s Algorithm 1 written here in
  plain NumPy (float64, the exact mixture denoiser, on the same sigma~ grid, as
  k-diffusion's `sample_heun` runs it): if the two agree, the overshoot is the
  algorithm's, not the implementation's;
- for N = 5 and 6, the local error of each Heun step against a fine solve of the
  probability-flow ODE from the same start (RK4 with 400 steps in log sigma~):
  which step makes the outliers.

    python benchmarks/edm_heun_levels.py      # about a minute
"""

import jax
import numpy as np

import scoresde as ss


MIX = ss.datasets.get("mixture-1d")
W = np.asarray(MIX.weights, np.float64)
MU = np.asarray(MIX.means, np.float64)[:, 0]
S = np.asarray(MIX.stds, np.float64)[:, 0]
SDE = ss.VPSDE(0.1, 20.0)
T_EPS = 1e-3
N_SAMPLES = 20_000


def noise_level(t):
    alpha, sigma = SDE.marginal(t)
    return float(sigma / alpha)


def denoiser(x, sig):
    """E[y0 | y0 + sig * eps = x] for the mixture, exactly."""
    var = S**2 + sig**2
    logp = np.log(W) - 0.5 * np.log(var) - 0.5 * (x[:, None] - MU) ** 2 / var
    r = np.exp(logp - logp.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)
    return np.sum(r * (MU + S**2 / var * (x[:, None] - MU)), axis=1)


def rho_grid(levels, rho=7.0):
    top, bottom = noise_level(SDE.T) ** (1 / rho), noise_level(T_EPS) ** (1 / rho)
    return (top + np.arange(levels) / (levels - 1) * (bottom - top)) ** rho


def heun_step(x, s, s_next):
    d = (x - denoiser(x, s)) / s
    x_euler = x + (s_next - s) * d
    d_next = (x_euler - denoiser(x_euler, s_next)) / s_next
    return x + (s_next - s) * 0.5 * (d + d_next)


def algorithm_1(x, levels):
    """Heun steps over the levels, then the Euler step to sigma~ = 0 (the
    denoiser)."""
    sig = rho_grid(levels)
    for s, s_next in zip(sig[:-1], sig[1:]):
        x = heun_step(x, s, s_next)
    return denoiser(x, sig[-1])


def fine_flow(x, s, s_next, substeps=400):
    """The probability-flow ODE dx/dlog(sigma~) = x - D(x; sigma~), by RK4."""
    ls = np.linspace(np.log(s), np.log(s_next), substeps + 1)
    f = lambda lam, x: x - denoiser(x, np.exp(lam))
    for a, b in zip(ls[:-1], ls[1:]):
        h = b - a
        k1 = f(a, x)
        k2 = f(a + h / 2, x + h / 2 * k1)
        k3 = f(a + h / 2, x + h / 2 * k2)
        k4 = f(b, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def is_outlier(y):
    return np.all(np.abs(y[:, None] - MU) / S > 6.0, axis=1)


def main():
    rng = np.random.default_rng(0)
    # y_T ~ N(0, 1), so x_T = y_T / alpha_T has variance 1 + sigma~_T^2 (VP).
    start = lambda: rng.standard_normal(N_SAMPLES) * np.sqrt(1 + noise_level(1) ** 2)
    print(
        f"VP(0.1, 20): sigma~ from {noise_level(SDE.T):.1f} (t = T) to "
        f"{noise_level(T_EPS):.4f} (t = {T_EPS}); {N_SAMPLES} samples"
    )
    print("levels  NFE  outliers: NumPy Algorithm 1   ss.EDMHeun")
    for levels in (3, 5, 6, 8, 10, 18):
        ref = int(is_outlier(algorithm_1(start(), levels)).sum())
        ys = ss.sample(
            jax.random.key(0),
            SDE,
            ss.exact_score(MIX, SDE),
            num_samples=N_SAMPLES,
            shape=(1,),
            sampler=ss.EDMHeun(levels),
        )
        ours = int(is_outlier(np.asarray(ys, np.float64)[:, 0]).sum())
        print(f"{levels:6d} {2 * levels - 1:4d}  {ref:27d} {ours:12d}", flush=True)
    for levels in (5, 6):
        sig = rho_grid(levels)
        x = start()
        errors = []
        for s, s_next in zip(sig[:-1], sig[1:]):
            x_next = heun_step(x, s, s_next)
            errors.append(np.abs(x_next - fine_flow(x, s, s_next)))
            x = x_next
        bad = is_outlier(denoiser(x, sig[-1]))
        print(
            f"\n{levels} levels ({int(bad.sum())} outliers): local error of each step"
        )
        for k, err in enumerate(errors):
            print(
                f"  sigma~ {sig[k]:8.3f} -> {sig[k + 1]:7.3f} (x{sig[k] / sig[k + 1]:5.1f})"
                f": median {np.median(err):8.3g}, above 3: {int(np.sum(err > 3)):5d}, "
                f"median over the outliers {np.median(err[bad]):8.3g}"
            )


if __name__ == "__main__":
    main()
