"""Accuracy of `ss.log_likelihood` against NFE and wall time.

For the two Gaussian-mixture oracles under the VP SDE, with the exact score and
the exact p_T (so that the only errors are the solver's and, for Hutchinson, the
estimator's), sweep the tolerance rtol = atol from 1e-3 to 1e-7 and report,
against the analytic log-density of n true samples:

- mean |error| per point (nats), and |mean error| (the bias of a dataset average);
- the mean number of evaluations of the augmented vector field (NFE) per sample;
- wall time of the (already compiled) call.

Divergences: the exact trace, and Hutchinson with one Rademacher probe (the
default; in 1-D a Rademacher probe gives the exact trace, so on mixture-1d the
two coincide, and on nine-gaussians the per-point error is the estimator's
spread while |mean error| shows that it is unbiased). Also equal steps of Tsit5
(`num_steps`), the other end of the NFE / accuracy trade.

Run from the repository root:

    python benchmarks/likelihood.py            # n = 1000, prints a table
    python benchmarks/likelihood.py --n 200    # quicker

Saves `benchmarks/results/likelihood.json`. Target (issue 5): mean error below
1e-3 nats at no more than 40 NFE on mixture-1d.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import scoresde as ss


RESULTS = Path(__file__).resolve().parent / "results"
TOLERANCES = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
FIXED_STEPS = (4, 6, 8, 12, 16)


def run_case(name, divergence, tol, n, repeats, num_steps=None):
    mix = ss.datasets.get(name)
    sde = ss.VPSDE()
    score_fn = ss.exact_score(mix, sde)
    ys = mix.sample(jax.random.key(0), n)
    true = np.asarray(jax.vmap(mix.log_prob)(ys))
    p_T = mix.marginal(sde, sde.T)

    def call():
        return ss.log_likelihood(
            jax.random.key(1),
            sde,
            score_fn,
            ys,
            rtol=tol,
            atol=tol,
            num_steps=num_steps,
            divergence=divergence,
            prior_log_prob=p_T.log_prob,
            return_stats=True,
        )

    logp, stats = call()  # compile
    jax.block_until_ready(logp)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        logp, stats = call()
        jax.block_until_ready(logp)
        times.append(time.perf_counter() - start)
    err = np.asarray(logp) - true
    return {
        "dataset": name,
        "divergence": divergence,
        "tol": tol,
        "num_steps": num_steps,
        "n": n,
        "mean_abs_error": float(np.mean(np.abs(err))),
        "max_abs_error": float(np.max(np.abs(err))),
        "abs_mean_error": float(abs(np.mean(err))),
        "mean_nfe": float(jnp.mean(stats["nfe"])),
        "max_nfe": int(jnp.max(stats["nfe"])),
        "wall_s": float(np.median(times)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="samples per case")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls")
    parser.add_argument("--out", type=Path, default=RESULTS / "likelihood.json")
    args = parser.parse_args()

    rows = []
    header = (
        f"{'dataset':<15}{'divergence':<12}{'steps':>9}{'mean|err|':>11}"
        f"{'max|err|':>10}{'|mean err|':>11}{'NFE':>7}{'wall s':>8}"
    )
    print(header)
    print("-" * len(header))
    cases = [
        (name, divergence, tol, None)
        for name in ("mixture-1d", "nine-gaussians")
        for divergence in ("exact", "hutchinson")
        for tol in TOLERANCES
    ] + [
        (name, "exact", None, steps)
        for name in ("mixture-1d", "nine-gaussians")
        for steps in FIXED_STEPS
    ]
    for name, divergence, tol, steps in cases:
        r = run_case(name, divergence, tol or 1e-5, args.n, args.repeats, steps)
        if steps is not None:
            r["tol"] = None
        rows.append(r)
        label = f"tol {tol:.0e}" if steps is None else f"{steps} eq."
        print(
            f"{name:<15}{divergence:<12}{label:>9}{r['mean_abs_error']:>11.2e}"
            f"{r['max_abs_error']:>10.2e}{r['abs_mean_error']:>11.2e}"
            f"{r['mean_nfe']:>7.1f}{r['wall_s']:>8.3f}"
        )
    target = [
        r
        for r in rows
        if r["dataset"] == "mixture-1d"
        and r["mean_abs_error"] < 1e-3
        and r["mean_nfe"] <= 40
    ]
    print(
        "target (mixture-1d, mean |error| < 1e-3 nats at <= 40 NFE): "
        + (
            f"met: {target[0]['divergence']}, tol={target[0]['tol']}, num_steps="
            f"{target[0]['num_steps']} (NFE {target[0]['mean_nfe']:.1f}, "
            f"error {target[0]['mean_abs_error']:.2e})"
            if target
            else "not met; best at <= 40 NFE: "
            + ", ".join(
                f"{r['mean_abs_error']:.2e} nats at NFE {r['mean_nfe']:.1f}"
                for r in sorted(
                    (
                        r
                        for r in rows
                        if r["dataset"] == "mixture-1d" and r["mean_nfe"] <= 40
                    ),
                    key=lambda r: r["mean_abs_error"],
                )[:1]
            )
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "solver": "diffrax.Tsit5 (default)",
        "sde": "VPSDE(0.1, 20)",
        "score": "exact (oracle)",
        "prior": "exact p_T",
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
    }
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
