"""Sampling benchmark: every sampler's quality against the exact answer versus its
score evaluations (NFE) and wall time, side by side with

- the limit: NFE x the time of one batched score evaluation of the same batch,
  measured as NFE evaluations in one compiled loop and timed alternately with
  the sampler (best of several runs each), so that both see the same machine
  load (target: wall time within 1.25x of it; compile time is reported
  separately);
- the seed case study's approach: `scipy.integrate.solve_ivp` on the
  probability-flow ODE, all samples flattened into one system and the score
  called from a Python callback, at the same tolerances, with the exact score
  and with a small MLP score network.

The samplers are also timed with a small MLP score network (speed only).

Quality uses the exact score of the Gaussian-mixture oracle (no training): the
mode weights (mean posterior responsibility, unbiased) and the Wasserstein-1
distance to exact samples on mixture-1d, the sliced Wasserstein distance on
nine-gaussians; each next to the data-vs-data baseline.

    python benchmarks/sampling.py            # about 3-5 minutes on 2 CPU cores
    python benchmarks/sampling.py --quick    # a smoke run, under a minute
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.stats

import scoresde as ss


RESULTS = Path(__file__).resolve().parent / "results"


def mode_weight_error(mix, ys):
    weights = jnp.mean(jax.vmap(mix.responsibilities)(ys), axis=0)
    return float(jnp.max(jnp.abs(weights - mix.weights)))


def w1(a, b):
    return float(
        scipy.stats.wasserstein_distance(np.asarray(a)[:, 0], np.asarray(b)[:, 0])
    )


def sliced_w1(a, b, key, num_directions=64):
    dirs = jax.random.normal(key, (num_directions, a.shape[1]))
    dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)
    pa, pb = np.asarray(a @ dirs.T), np.asarray(b @ dirs.T)
    return float(
        np.mean(
            [
                scipy.stats.wasserstein_distance(pa[:, i], pb[:, i])
                for i in range(num_directions)
            ]
        )
    )


def timed(fn, repeats):
    """(first call incl. compile, best of `repeats` later calls) in seconds."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn(0))
    first = time.perf_counter() - t
    best = np.inf
    for r in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(r + 1))
        best = min(best, time.perf_counter() - t)
    return out, first, best


def score_loop(score_fn, ts, path, nfe, *, per_sample_t):
    """The limit's computation: `nfe` batched score evaluations in one compiled
    loop (so no dispatch per evaluation), at the points `path` (shape
    `(n, len(ts), *shape)`) that the sampler itself visits at the times `ts`,
    taken in turn (the oracle's cost depends on where it is evaluated: its
    softmax underflows far from the modes). One time per evaluation for the whole
    batch (what a fixed-step sampler or shared adaptive steps need), or a
    different time for each sample (per-sample adaptive steps). Returns a
    function of the run index."""
    n, k = path.shape[:2]
    path = jnp.swapaxes(path, 0, 1)
    ts = jnp.asarray(ts, path.dtype)
    if per_sample_t:
        f = jax.vmap(score_fn)
        # Sample j is at time index (i + j) mod k: every time in every batch.
        index = lambda i: jnp.mod(i + jnp.arange(n), k)
        at = lambda i: (ts[index(i)], path[index(i), jnp.arange(n)])
    else:
        f = jax.vmap(score_fn, (None, 0))
        at = lambda i: (ts[jnp.mod(i, k)], path[jnp.mod(i, k)])

    @jax.jit
    def run(path):
        def body(acc, i):
            t, y = at(i)
            # Feeding the accumulator back in keeps XLA from hoisting the calls.
            return acc + f(t, y + 1e-9 * acc), None

        return jax.lax.scan(body, jnp.zeros_like(path[0]), jnp.arange(nfe))[0]

    return lambda r: run(path)


def interleaved(fn, limit_fn, repeats, cpu=None):
    """Time `fn` and `limit_fn` alternately, `repeats` times each, so that both
    see the same machine load. Returns `(output of fn, compile_s, best fn s,
    best limit s)`; `fn` and `limit_fn` take the run index. With a dict `cpu`,
    also the best process (CPU) times, as `cpu["fn"]` and `cpu["limit"]`: on a
    machine shared with other jobs they move less than wall times."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn(0))
    first = time.perf_counter() - t
    jax.block_until_ready(limit_fn(0))
    best, best_limit = np.inf, np.inf
    best_cpu, best_cpu_limit = np.inf, np.inf
    for r in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(r + 1))
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        c, t = time.process_time(), time.perf_counter()
        jax.block_until_ready(limit_fn(r + 1))
        best_limit = min(best_limit, time.perf_counter() - t)
        best_cpu_limit = min(best_cpu_limit, time.process_time() - c)
    if cpu is not None:
        cpu.update(fn=best_cpu, limit=best_cpu_limit)
    return out, first - best, best, best_limit


def scan_euler_maruyama(sde, score_fn, n, num_steps, t_eps=1e-3):
    """The plain `lax.scan` loop: Euler-Maruyama on the reverse SDE, the batch as
    one array, one time per step, one batched normal draw per step."""
    score = jax.vmap(score_fn, (None, 0))
    drift = jax.vmap(sde.reverse_drift, (None, 0, 0))

    @jax.jit
    def run(key):
        dt = (sde.T - t_eps) / num_steps
        y = sde.prior_sample(key, (n, 1))

        def body(y, i):
            t = sde.T - i * dt
            z = jax.random.normal(jax.random.fold_in(key, i), y.shape)
            y = y - drift(t, y, score(t, y)) * dt + sde.diffusion(t) * jnp.sqrt(dt) * z
            return y, None

        return jax.lax.scan(body, y, jnp.arange(num_steps))[0]

    return run


def samplers(quick):
    vp = ss.VPSDE()
    ve = ss.VESDE(0.01, 30.0)
    ddpm = ss.DDPM.linear(1000, 1e-4, 0.02)
    ncsn = ss.NCSN.geometric(0.01, 20.0, 30)
    k = 4 if quick else 1
    return {
        "pf-ode tsit5 (vp)": (vp, ss.ProbabilityFlowODE()),
        "pf-ode tsit5 per-sample steps (vp)": (
            vp,
            ss.ProbabilityFlowODE(shared_steps=False),
        ),
        "pf-ode tsit5 rtol1e-3 (vp)": (vp, ss.ProbabilityFlowODE(rtol=1e-3, atol=1e-3)),
        "pf-ode heun 50 (vp)": (
            vp,
            ss.ProbabilityFlowODE(diffrax.Heun(), num_steps=50),
        ),
        f"reverse-sde euler {1000 // k} (vp)": (vp, ss.ReverseSDE(num_steps=1000 // k)),
        f"reverse-sde shark {100 // k} (vp)": (
            vp,
            ss.ReverseSDE(diffrax.ShARK(), num_steps=100 // k),
        ),
        f"pc reverse-diffusion {500 // k} (vp)": (
            vp,
            ss.PredictorCorrector(num_steps=500 // k),
        ),
        f"pc reverse-diffusion {500 // k} (ve)": (
            ve,
            ss.PredictorCorrector(num_steps=500 // k),
        ),
        "ancestral (ddpm 1000)": (ddpm, ss.Ancestral()),
        f"annealed langevin 30x{100 // k} (ncsn)": (
            ncsn,
            ss.AnnealedLangevin(100 // k, 2e-5),
        ),
    }


def measure(sde, sampler, score_fn, data, repeats):
    """Sample as many points as `data` has (`data` gives the count and shape) and
    time it against its limit, interleaved.
    Returns the samples and a dict of NFE, wall time, limit, overhead and
    compile time."""
    n, shape = data.shape[0], data.shape[1:]
    per_sample = (
        isinstance(sampler, ss.ProbabilityFlowODE)
        and sampler.num_steps is None
        and not sampler.shared_steps
    )

    def run(seed):
        return ss.sample(
            jax.random.key(seed),
            sde,
            score_fn,
            num_samples=n,
            shape=shape,
            sampler=sampler,
            return_stats=True,
        )

    # The batch runs for its largest NFE (per-sample adaptive steps differ).
    t = time.perf_counter()
    first = jax.block_until_ready(run(0))
    compile_s = time.perf_counter() - t
    nfe_max = int(first[1]["nfe"].max())
    t_end = sampler.final_time(1e-3)
    ts = np.linspace(sde.T, t_end, min(nfe_max, 500))
    path = ss.sample(
        jax.random.key(0),
        sde,
        score_fn,
        num_samples=n,
        shape=shape,
        sampler=sampler,
        save_ts=ts,
    )
    limit_fn = score_loop(score_fn, ts, path, nfe_max, per_sample_t=per_sample)
    cpu = {}
    (ys, stats), _, wall, limit = interleaved(run, limit_fn, repeats, cpu)
    compile_s -= wall
    timing = dict(
        nfe_mean=float(stats["nfe"].mean()),
        nfe_max=nfe_max,
        wall_s=wall,
        limit_s=limit,
        overhead=wall / limit,
        cpu_s=cpu["fn"],
        cpu_limit_s=cpu["limit"],
        cpu_overhead=cpu["fn"] / cpu["limit"],
        compile_s=compile_s,
    )
    return ys, timing


def bench_samplers(n, quick, repeats):
    mix = ss.datasets.get("mixture-1d")
    truth = mix.sample(jax.random.key(100), n)
    baseline = w1(mix.sample(jax.random.key(101), n), truth)
    rows = []
    for name, (sde, sampler) in samplers(quick).items():
        score_fn = ss.exact_score(mix, sde)
        ys, timing = measure(sde, sampler, score_fn, truth, repeats)
        rows.append(
            dict(
                dataset="mixture-1d",
                sampler=name,
                n=n,
                **timing,
                mode_weight_err=mode_weight_error(mix, ys),
                w1=w1(ys, truth),
                w1_baseline=baseline,
            )
        )
        print_row(rows[-1])
    # The plain scan loop, for the Diffrax overhead (diffrax #517).
    vp = ss.VPSDE()
    steps = 1000 // (4 if quick else 1)
    score_fn = ss.exact_score(mix, vp)
    run_scan = scan_euler_maruyama(vp, score_fn, n, steps)
    ts = np.linspace(vp.T, 1e-3, 500)
    path = ss.sample(
        jax.random.key(0),
        vp,
        score_fn,
        num_samples=n,
        shape=(1,),
        sampler=ss.ReverseSDE(num_steps=steps),
        save_ts=ts,
    )
    limit_fn = score_loop(score_fn, ts, path, steps, per_sample_t=False)
    ys, compile_s, wall, limit = interleaved(
        lambda seed: run_scan(jax.random.key(seed)), limit_fn, repeats
    )
    rows.append(
        dict(
            dataset="mixture-1d",
            sampler=f"plain lax.scan euler-maruyama {steps} (vp)",
            n=n,
            nfe_mean=steps,
            nfe_max=steps,
            wall_s=wall,
            limit_s=limit,
            overhead=wall / limit,
            compile_s=compile_s,
            mode_weight_err=mode_weight_error(mix, ys),
            w1=w1(ys, truth),
            w1_baseline=baseline,
        )
    )
    print_row(rows[-1])
    return rows


def bench_nine_gaussians(n, quick, repeats):
    mix = ss.datasets.get("nine-gaussians")
    vp = ss.VPSDE()
    score_fn = ss.exact_score(mix, vp)
    truth = mix.sample(jax.random.key(200), n)
    key = jax.random.key(202)
    baseline = sliced_w1(mix.sample(jax.random.key(201), n), truth, key)
    rows = []
    steps = 50 if quick else 200
    for name, sampler in {
        "pf-ode tsit5 (vp)": ss.ProbabilityFlowODE(),
        f"reverse-sde shark {steps} (vp)": ss.ReverseSDE(
            diffrax.ShARK(), num_steps=steps
        ),
    }.items():
        ys, timing = measure(vp, sampler, score_fn, truth, repeats)
        rows.append(
            dict(
                dataset="nine-gaussians",
                sampler=name,
                n=n,
                **timing,
                mode_weight_err=mode_weight_error(mix, ys),
                sliced_w1=sliced_w1(ys, truth, key),
                sliced_w1_baseline=baseline,
            )
        )
        print_row(rows[-1])
    return rows


def bench_network_score(n, quick, repeats):
    """Speed only: the samplers with a small MLP score network in place of the
    oracle (the usual case: a network costs more per evaluation than the
    oracle's three-component mixture, so the per-step work beyond it weighs
    less)."""
    mlp = MLPScore(
        eqx.nn.MLP(2, 1, 64, 2, activation=jax.nn.silu, key=jax.random.key(1))
    )
    vp = ss.VPSDE()
    data = ss.datasets.get("mixture-1d").sample(jax.random.key(100), n)
    k = 4 if quick else 1
    rows = []
    for name, sampler in {
        "pf-ode tsit5 (vp)": ss.ProbabilityFlowODE(),
        f"reverse-sde euler {500 // k} (vp)": ss.ReverseSDE(num_steps=500 // k),
        f"pc reverse-diffusion {250 // k} (vp)": ss.PredictorCorrector(
            num_steps=250 // k
        ),
        f"ancestral {500 // k} (vp)": ss.Ancestral(num_steps=500 // k),
    }.items():
        _, timing = measure(vp, sampler, mlp, data, repeats)
        rows.append(dict(dataset="mixture-1d, MLP score", sampler=name, n=n, **timing))
        print_row(rows[-1])
    return rows


class MLPScore(eqx.Module):
    """A small (untrained) MLP score network `(t, y) -> score`: the standard
    normal's score plus a random MLP, so that the solutions stay of order one."""

    mlp: eqx.nn.MLP

    def __call__(self, t, y):
        return -y + self.mlp(jnp.concatenate([y, jnp.reshape(t, (1,))]))


def scipy_pf_ode(sde, score_fn, zs, t_eps, rtol, atol, repeats):
    """The seed case study: one flattened system, the score from a Python callback
    (best wall time of `repeats` solves)."""
    n, d = zs.shape
    drift = jax.jit(
        jax.vmap(
            lambda t, y: sde.probability_flow_drift(t, y, score_fn(t, y)), (None, 0)
        )
    )

    def fun(t, y):
        y = jnp.asarray(y.reshape(n, d), jnp.float32)
        return np.asarray(drift(jnp.float32(t), y), np.float64).ravel()

    fun(1.0, np.asarray(zs, np.float64).ravel())  # compile outside the timing
    wall = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        res = scipy.integrate.solve_ivp(
            fun,
            (sde.T, t_eps),
            np.asarray(zs, np.float64).ravel(),
            method="RK45",
            rtol=rtol,
            atol=atol,
        )
        wall = min(wall, time.perf_counter() - t)
    return res.y[:, -1].reshape(n, d), wall, res.nfev


def bench_vs_scipy(n, tolerances, repeats):
    mix = ss.datasets.get("mixture-1d")
    vp = ss.VPSDE()
    t_eps = 1e-3
    zs = vp.prior_sample(jax.random.key(300), (n, 1))
    truth = mix.sample(jax.random.key(100), n)
    baseline = w1(mix.sample(jax.random.key(101), n), truth)
    mlp = MLPScore(
        eqx.nn.MLP(2, 1, 64, 2, activation=jax.nn.silu, key=jax.random.key(1))
    )
    scores = {"exact": ss.exact_score(mix, vp), "mlp": mlp}
    rows = []
    for score_name, score_fn in scores.items():
        reference = ss.ProbabilityFlowODE(
            diffrax.Dopri8(), rtol=1e-8, atol=1e-8
        ).decode(vp, score_fn, zs, t_eps=t_eps)
        for tol in tolerances:
            sampler = ss.ProbabilityFlowODE(rtol=tol, atol=tol)

            def run(_):
                return sampler.decode(vp, score_fn, zs, t_eps=t_eps)

            ys, first, wall = timed(run, repeats)
            per_sample = ss.ProbabilityFlowODE(rtol=tol, atol=tol, shared_steps=False)
            ys_ps, _, wall_ps = timed(
                lambda _: per_sample.decode(vp, score_fn, zs, t_eps=t_eps), repeats
            )
            y_sp, wall_sp, nfev = scipy_pf_ode(
                vp, score_fn, zs, t_eps, tol, tol, repeats
            )
            row = dict(
                score=score_name,
                tol=tol,
                n=n,
                scoresde_wall_s=wall,
                scoresde_compile_s=first - wall,
                scipy_wall_s=wall_sp,
                scipy_nfe=nfev,
                speedup=wall_sp / wall,
                scoresde_err_vs_ref=float(jnp.median(jnp.abs(ys - reference))),
                scipy_err_vs_ref=float(np.median(np.abs(y_sp - np.asarray(reference)))),
                scoresde_max_err_vs_ref=float(jnp.max(jnp.abs(ys - reference))),
                per_sample_steps_wall_s=wall_ps,
                per_sample_steps_max_err_vs_ref=float(
                    jnp.max(jnp.abs(ys_ps - reference))
                ),
                scipy_max_err_vs_ref=float(
                    np.max(np.abs(y_sp - np.asarray(reference)))
                ),
            )
            if score_name == "exact":
                row.update(
                    scoresde_mode_weight_err=mode_weight_error(mix, ys),
                    scipy_mode_weight_err=mode_weight_error(
                        mix, jnp.asarray(y_sp, jnp.float32)
                    ),
                    scoresde_w1=w1(ys, truth),
                    scipy_w1=w1(y_sp, truth),
                    w1_baseline=baseline,
                )
            rows.append(row)
            quality = ""
            if score_name == "exact":
                quality = (
                    f"  weight err {row['scoresde_mode_weight_err']:.4f} vs "
                    f"{row['scipy_mode_weight_err']:.4f}, W1 {row['scoresde_w1']:.4f} vs "
                    f"{row['scipy_w1']:.4f}"
                )
            print(
                f"  {score_name:6s} tol={tol:.0e}: scoresde {wall:7.3f}s (err vs ref "
                f"median {row['scoresde_err_vs_ref']:.1e} max "
                f"{row['scoresde_max_err_vs_ref']:.1e})  scipy {wall_sp:7.3f}s (nfe "
                f"{nfev}, err vs ref median {row['scipy_err_vs_ref']:.1e} max "
                f"{row['scipy_max_err_vs_ref']:.1e})  speedup x{row['speedup']:.2f}"
                f"{quality}  [per-sample steps {wall_ps:.3f}s, max err "
                f"{row['per_sample_steps_max_err_vs_ref']:.1e}]"
            )
    return rows


def print_row(r):
    if "w1" in r:
        quality = f"weight err {r['mode_weight_err']:.4f}  W1 {r['w1']:.4f} (data {r['w1_baseline']:.4f})"
    elif "sliced_w1" in r:
        quality = f"weight err {r['mode_weight_err']:.4f}  SW1 {r['sliced_w1']:.4f} (data {r['sliced_w1_baseline']:.4f})"
    else:
        quality = ""
    print(
        f"  {r['sampler']:36s} nfe {r['nfe_max']:5d}  wall {r['wall_s']:7.3f}s  "
        f"limit {r['limit_s']:7.3f}s  x{r['overhead']:.2f}  compile {r['compile_s']:5.1f}s  "
        f"{quality}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--num-samples", type=int, default=None)
    args = parser.parse_args()
    n = args.num_samples or (4000 if args.quick else 20_000)
    repeats = 2 if args.quick else 5
    tolerances = [1e-3] if args.quick else [1e-3, 1e-5]

    print(f"== samplers on mixture-1d, exact score, {n} samples ==")
    rows = bench_samplers(n, args.quick, repeats)
    print(f"== nine-gaussians, exact score, {n} samples ==")
    rows += bench_nine_gaussians(n, args.quick, repeats)
    print(f"== mixture-1d, a small MLP score network (speed only), {n} samples ==")
    rows += bench_network_score(n, args.quick, repeats)
    print(
        f"== probability-flow ODE vs scipy.integrate.solve_ivp (RK45), {n} samples =="
    )
    scipy_rows = bench_vs_scipy(n, tolerances, repeats)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("sampling_quick.json" if args.quick else "sampling.json")
    meta = dict(
        jax=jax.__version__,
        diffrax=diffrax.__version__,
        platform=platform.platform(),
        devices=[str(d) for d in jax.devices()],
        quick=args.quick,
    )
    out.write_text(
        json.dumps(dict(meta=meta, samplers=rows, scipy=scipy_rows), indent=1)
    )
    print(f"saved {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
