"""Scaling over devices: training steps/s and sampled points/s on 1, 2 and 4
devices (meshes over the first k devices of `jax.devices()`), strong scaling
(a fixed global batch) and weak scaling (a fixed batch per device), and the
gain of the shared adaptive steps of `ss.log_likelihood`.

    python benchmarks/scaling.py             # ~2-3 minutes on 2 busy CPU cores
    python benchmarks/scaling.py --quick     # smoke run

On a CPU-only machine the script forces 4 host devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=4`) that share the machine's
cores: there the numbers measure the overhead of sharding, not a speedup, and
the script says so. Run it unchanged on a machine with several GPUs for real
scaling; the efficiencies are then meaningful:

- strong scaling efficiency on k devices = throughput_k / (k * throughput_1)
  with the same global batch;
- weak scaling efficiency on k devices = throughput_k / (k * throughput_1) with
  k times the batch (so the work per device is constant).

Saves `benchmarks/results/scaling[-<backend>].json`.
"""

import os


if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    # Must precede the import of jax; affects only the CPU platform.
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

import scoresde as ss  # noqa: E402


RESULTS = pathlib.Path(__file__).parent / "results"


def _mesh(k: int) -> Mesh:
    return Mesh(np.asarray(jax.devices()[:k]), ("data",))


def _model(width: int, depth: int) -> ss.ScoreModel:
    net = ss.nets.MLP((2,), width=width, depth=depth, key=jax.random.key(0))
    return ss.ScoreModel(net, ss.VPSDE(), parameterization="eps")


def train_rate(k: int, batch: int, args) -> float:
    """Training steps/s on k devices with global batch `batch` (best of repeats)."""
    data = ss.datasets.get("nine-gaussians")
    model = _model(args.width, args.depth)
    kw = dict(
        key=jax.random.key(1),
        batch_size=batch,
        optimizer=optax.adam(1e-3),  # the same object whatever `steps`: no recompile
        steps_per_dispatch=args.steps_per_dispatch,
        mesh=_mesh(k),
        progress=False,
    )
    ss.train(model, data, steps=args.steps_per_dispatch, **kw)  # compile
    best = 0.0
    for _ in range(args.repeats):
        steps = args.steps_per_dispatch * args.dispatches
        result = ss.train(model, data, steps=steps, **kw)
        best = max(best, steps / result.wall_time)
    return best


def sample_rate(k: int, n: int, args) -> float:
    """Sampled points/s on k devices (DPM-Solver, 10 steps, the MLP's score)."""
    model = _model(args.width, args.depth)
    sampler = ss.DPMSolver(num_steps=10)

    def run():
        ys = ss.sample(
            jax.random.key(2),
            model.sde,
            model,
            num_samples=n,
            shape=(2,),
            sampler=sampler,
            mesh=_mesh(k),
        )
        return ys.block_until_ready()

    run()  # compile
    best = float("inf")
    for _ in range(args.repeats):
        tick = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - tick)
    return n / best


def likelihood_gain(args) -> list[dict]:
    """Shared against per-point adaptive steps of `ss.log_likelihood`: points/s,
    steps, and the error against the exact log-density (exact score and p_T)."""
    sde = ss.VPSDE()
    rows = []
    for name in ("mixture-1d", "nine-gaussians"):
        mix = ss.datasets.get(name)
        score = ss.exact_score(mix, sde)
        p_T = mix.marginal(sde, sde.T)
        ys = mix.sample(jax.random.key(0), args.likelihood_points)
        exact = np.asarray(jax.vmap(mix.log_prob)(ys))
        for shared in (True, False):
            ode = ss.ODESolve(shared_steps=shared)

            def run():
                logp, stats = ss.log_likelihood(
                    jax.random.key(1),
                    sde,
                    score,
                    ys,
                    ode=ode,
                    prior_log_prob=p_T.log_prob,
                    return_stats=True,
                    mesh=_mesh(1),  # the steps' effect alone, on one device
                )
                return logp.block_until_ready(), stats

            run()
            best = float("inf")
            for _ in range(args.repeats):
                tick = time.perf_counter()
                logp, stats = run()
                best = min(best, time.perf_counter() - tick)
            err = np.abs(np.asarray(logp) - exact)
            rows.append(
                dict(
                    dataset=name,
                    shared_steps=shared,
                    points=len(exact),
                    seconds=best,
                    points_per_s=len(exact) / best,
                    max_steps=int(np.max(stats["num_steps"])),
                    mean_steps=float(np.mean(stats["num_steps"])),
                    mean_abs_err=float(err.mean()),
                    max_abs_err=float(err.max()),
                )
            )
    return rows


def _efficiency(rates: dict[int, float]) -> dict[int, float]:
    return {k: rates[k] / (k * rates[1]) for k in rates}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch-per-device", type=int, default=128)
    parser.add_argument("--samples-per-device", type=int, default=2048)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--steps-per-dispatch", type=int, default=50)
    parser.add_argument("--dispatches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--likelihood-points", type=int, default=1000)
    args = parser.parse_args()
    if args.quick:
        args.batch_per_device, args.samples_per_device = 16, 64
        args.steps_per_dispatch, args.dispatches, args.repeats = 5, 1, 1
        args.likelihood_points = 50
    backend = jax.default_backend()
    devices = [k for k in args.devices if k <= len(jax.devices())]
    real = backend != "cpu"
    note = (
        f"{len(jax.devices())} {backend} devices."
        if real
        else (
            f"CPU only: {len(jax.devices())} forced host devices share "
            f"{os.cpu_count()} CPU cores, so these numbers measure the OVERHEAD "
            "of sharding, not a speedup; the scaling efficiencies are not "
            "meaningful here. Run this script unchanged on a machine with "
            "several GPUs for real scaling."
        )
    )
    print(note, flush=True)
    kmax = max(devices)
    out = {
        "backend": backend,
        "device_kind": jax.devices()[0].device_kind,
        "num_devices": len(jax.devices()),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "real_devices": real,
        "note": note,
        "args": vars(args),
    }
    for what, fn, per_device in (
        ("train_steps_per_s", train_rate, args.batch_per_device),
        ("sample_points_per_s", sample_rate, args.samples_per_device),
    ):
        strong = {k: fn(k, per_device * kmax, args) for k in devices}
        weak = {k: fn(k, per_device * k, args) for k in devices}
        out[what] = {
            "strong": {"global_batch": per_device * kmax, "rate": strong},
            "weak": {"batch_per_device": per_device, "rate": weak},
        }
        if 1 in devices:
            out[what]["strong"]["efficiency"] = _efficiency(strong)
            out[what]["weak"]["efficiency"] = _efficiency(weak)
        print(f"\n{what} ({'MLP' if 'train' in what else 'DPM-Solver 10 steps'})")
        print(
            f"  devices   strong (global {per_device * kmax})   weak ({per_device}/device)"
        )
        for k in devices:
            line = f"  {k:7d}   {strong[k]:12.1f}"
            if 1 in devices:
                line += f" ({out[what]['strong']['efficiency'][k]:4.0%})"
            line += f"   {weak[k]:12.1f}"
            if 1 in devices:
                line += f" ({out[what]['weak']['efficiency'][k]:4.0%})"
            print(line, flush=True)
    out["likelihood_shared_steps"] = rows = likelihood_gain(args)
    print("\nlog_likelihood, shared vs per-point adaptive steps (one device):")
    for r in rows:
        print(
            f"  {r['dataset']:15s} shared={str(r['shared_steps']):5s} "
            f"{r['points_per_s']:9.0f} points/s  steps max {r['max_steps']:3d} "
            f"mean {r['mean_steps']:5.1f}  |err| mean {r['mean_abs_err']:.1e} "
            f"max {r['max_abs_err']:.1e}"
        )
    for name in ("mixture-1d", "nine-gaussians"):
        shared, own = (
            next(r for r in rows if r["dataset"] == name and r["shared_steps"] == s)
            for s in (True, False)
        )
        gain = shared["points_per_s"] / own["points_per_s"]
        out.setdefault("likelihood_gain", {})[name] = gain
        print(f"  {name}: shared steps {gain:.2f}x the points/s of per-point steps")
    print(f"\n{note}")
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if backend == "cpu" else f"-{backend}"
    path = RESULTS / f"scaling{'-quick' if args.quick else ''}{suffix}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
