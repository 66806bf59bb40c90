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
spread while |mean error| shows that it is unbiased). Also equal steps
(`num_steps`) of Tsit5 and of the third-order Bosh3, which are cheaper than
adaptive steps below ~60 NFE on mixture-1d.

Run from the repository root:

    python benchmarks/likelihood.py            # n = 1000, prints a table
    python benchmarks/likelihood.py --n 200    # quicker

Saves `benchmarks/results/likelihood.json`. Target (issue 5): mean error below
1e-3 nats at no more than 40 NFE on mixture-1d.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import scoresde as ss


RESULTS = Path(__file__).resolve().parent / "results"
TOLERANCES = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
FIXED_STEPS = tuple(
    [(diffrax.Tsit5(), k) for k in (4, 6, 8, 12, 16)]
    + [(diffrax.Bosh3(), k) for k in (8, 10, 13, 16, 24)]
)


#: The estimators compared, by the names printed in the table.
DIVERGENCES = {"exact": ss.ExactDivergence(), "hutchinson": ss.Hutchinson()}


def run_case(name, divergence, tol, n, repeats, num_steps=None, solver=None):
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
            ode=ss.ODESolve(
                solver=solver or diffrax.Tsit5(),
                rtol=tol,
                atol=tol,
                num_steps=num_steps,
            ),
            divergence=DIVERGENCES[divergence],
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
        "solver": type(solver or diffrax.Tsit5()).__name__,
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
        f"{'dataset':<15}{'divergence':<12}{'solver, tol/steps':>18}{'mean|err|':>11}"
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
        (name, "exact", None, fixed)
        for name in ("mixture-1d", "nine-gaussians")
        for fixed in FIXED_STEPS
    ]
    for name, divergence, tol, fixed in cases:
        solver, steps = fixed or (None, None)
        r = run_case(name, divergence, tol or 1e-5, args.n, args.repeats, steps, solver)
        if steps is not None:
            r["tol"] = None
        rows.append(r)
        label = (
            f"Tsit5 tol {tol:.0e}"
            if steps is None
            else f"{type(solver).__name__} {steps} steps"
        )
        print(
            f"{name:<15}{divergence:<12}{label:>18}{r['mean_abs_error']:>11.2e}"
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
            f"met: {target[0]['divergence']}, {target[0]['solver']}, tol="
            f"{target[0]['tol']}, num_steps={target[0]['num_steps']} (NFE {target[0]['mean_nfe']:.1f}, "
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
        "solver": "diffrax.Tsit5 (default) unless the row says",
        "sde": "VPSDE(0.1, 20)",
        "score": "exact (oracle)",
        "prior": "exact p_T",
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
    }
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"saved {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
