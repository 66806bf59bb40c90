"""Few-step sampling benchmark: quality against the number of score evaluations
(NFE 5, 10, 20, 35, 50) for the few-step samplers (DDIM, DPM-Solver++, EDM's Heun)
and the fixed-step probability-flow ODE with Heun's method as the baseline, on
every SDE (VP, sub-VP, VE) and on mixture-1d and nine-gaussians, side by side with
the peers users would otherwise pick (diffusers' DPMSolverMultistepScheduler,
UniPCMultistepScheduler, DDIMScheduler and EulerDiscreteScheduler; k-diffusion's
sample_dpmpp_2m and sample_heun) run with the same exact noise prediction.

Quality uses the exact score of the Gaussian-mixture oracle (no training):

- the largest mode-weight error (`ss.metrics.mode_weight_error`, the mean
  posterior responsibility against the true weights), as the MEAN over seeds;
- W1 to exact samples (1-D) or the sliced W1 (2-D), next to the data-vs-data
  floor (two independent exact samples of the same size);
- the outlier fraction (`ss.metrics.outlier_fraction`: more than 6 standard
  deviations from every component), over all seeds' samples;
- the wall time (best over the seeds' runs, compiled) and, separately, the
  compile time (first call minus the best).

The peers run on mixture-1d with the VP SDE: VP with beta 0.1..20 is the
continuous form of the 1,000-step DDPM linear schedule (beta 1e-4..0.02) that
the peers are configured with, and their noise prediction is the exact eps of
the mixture under that schedule's own (sqrt(alpha_bar), sqrt(1 - alpha_bar)),
computed with JAX and converted to torch tensors (the conversion is inside
their wall time). They are an optional extra (`pip install scoresde[bench]`);
without them the script says "not installed" and goes on.

Speed with a network score: each new sampler's wall time against the limit,
NFE x one batched score evaluation of the same batch, measured as
`benchmarks/sampling.py` does (its `measure`), with its small MLP score
network, and with a trained run's network when `--run DIR` is given.

    python benchmarks/fast_sampling.py                 # the full table
    python benchmarks/fast_sampling.py --quick         # a smoke run, about a minute
    python benchmarks/fast_sampling.py --run RUN_DIR   # add rows with a trained model

Results go to benchmarks/results/fast_sampling.json (fast_sampling_quick.json
with --quick) and the figure to docs/figures/fast_sampling.png.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import scoresde as ss
from scoresde._rundir import read_source


HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIGURE = HERE.parent / "docs" / "figures" / "fast_sampling.png"
NFES = (5, 10, 20, 35, 50)
SDES = {
    "vp": lambda: ss.VPSDE(0.1, 20.0),
    "subvp": lambda: ss.SubVPSDE(0.1, 20.0),
    "ve": lambda: ss.VESDE(0.01, 50.0),
}


# ------------------------------------------------------------------ samplers
def our_samplers(nfe):
    """`{name: sampler}` using at most `nfe` score evaluations per sample (the
    measured NFE is reported). Samplers this version of scoresde lacks are left
    out."""
    out = {}
    if hasattr(ss, "DPMSolver"):
        out["dpm-solver++(2m)"] = ss.DPMSolver(num_steps=nfe, order=2)
    if hasattr(ss, "EDMHeun"):
        # Heun: two evaluations a step, one for the last (Euler) step.
        out["edm-heun"] = ss.EDMHeun(num_steps=max(1, (nfe + 1) // 2))
    if hasattr(ss, "DDIM"):
        out["ddim"] = ss.DDIM(num_steps=nfe)
    # The baseline: fixed-step probability-flow ODE with Heun's method (two
    # evaluations a step).
    out["pf-ode heun (baseline)"] = ss.ProbabilityFlowODE(
        diffrax.Heun(), num_steps=max(1, nfe // 2)
    )
    return out


def speed_samplers(nfe):
    """The samplers timed against the limit: those of `our_samplers`, and the other
    variants of DPM-Solver++ (orders 1 and 3, SDE-DPM-Solver++(2M))."""
    out = our_samplers(nfe)
    if hasattr(ss, "DPMSolver"):
        out["dpm-solver++(1)"] = ss.DPMSolver(num_steps=nfe, order=1)
        out["dpm-solver++(3m)"] = ss.DPMSolver(num_steps=nfe, order=3)
        out["sde-dpm-solver++(2m)"] = ss.DPMSolver(num_steps=nfe, stochastic=True)
    return out


# ------------------------------------------------------------------ metrics
class Reference:
    """Exact samples and the data-vs-data floor of the distance for one dataset."""

    def __init__(self, name, n):
        self.name = name
        self.mix = ss.datasets.get(name)
        self.dim = self.mix.shape[0]
        self.truth = np.asarray(self.mix.sample(jax.random.key(100), n))
        self.key = jax.random.key(102)
        self.floor = self.distance(np.asarray(self.mix.sample(jax.random.key(101), n)))

    def distance(self, ys):
        if self.dim == 1:
            return ss.metrics.wasserstein_1d(ys, self.truth)
        return ss.metrics.sliced_wasserstein(self.key, ys, self.truth)

    def quality(self, samples):
        """Mean (and spread) over seeds of the weight error and the distance, and
        the outlier fraction over all samples. `samples` is a list of arrays."""
        errs = [ss.metrics.mode_weight_error(self.mix, ys) for ys in samples]
        dists = [self.distance(ys) for ys in samples]
        allys = np.concatenate(samples)
        finite = np.all(np.isfinite(allys), axis=1)
        return dict(
            weight_err_mean=float(np.mean(errs)),
            weight_err_std=float(np.std(errs)),
            dist_mean=float(np.mean(dists)),
            dist_floor=self.floor,
            outlier_fraction=ss.metrics.outlier_fraction(self.mix, allys),
            num_outliers=int(
                round(ss.metrics.outlier_fraction(self.mix, allys) * len(allys))
            ),
            num_nonfinite=int(np.sum(~finite)),
        )


def run_seeds(sample_fn, seeds):
    """`sample_fn(seed) -> (n, d) array`; returns (samples per seed, compile s,
    best wall s)."""
    out = []
    walls = []
    for i, seed in enumerate(seeds):
        t = time.perf_counter()
        ys = np.asarray(jax.block_until_ready(sample_fn(seed)))
        walls.append(time.perf_counter() - t)
        out.append(ys)
    best = min(walls[1:]) if len(walls) > 1 else walls[0]
    return out, walls[0] - best, best


# ------------------------------------------------------------------ ours
def bench_ours(ref, sde, sde_label, score, label, nfes, seeds, n):
    rows = []
    for nfe in nfes:
        for name, sampler in our_samplers(nfe).items():
            stats_box = {}

            def sample(seed):
                ys, stats = ss.sample(
                    jax.random.key(seed),
                    sde,
                    score,
                    num_samples=n,
                    shape=ref.mix.shape,
                    sampler=sampler,
                    return_stats=True,
                )
                stats_box["nfe"] = int(np.max(stats["nfe"]))
                return ys

            try:
                samples, compile_s, wall = run_seeds(sample, seeds)
            except (ValueError, TypeError) as e:  # a sampler that cannot serve an SDE
                print(f"  {name:24s} {sde_label:6s} nfe {nfe:3d}: skipped ({e})")
                continue
            row = dict(
                dataset=ref.name,
                score=label,
                sde=sde_label,
                sampler=name,
                config=repr(sampler),
                nfe_target=nfe,
                nfe=stats_box["nfe"],
                n=n,
                seeds=len(seeds),
                wall_s=wall,
                compile_s=compile_s,
                **ref.quality(samples),
            )
            rows.append(row)
            print_row(row)
    return rows


# ------------------------------------------------------------------ peers
def exact_eps_fn(mix):
    """`eps(y (n, d), mean_coeff, std) -> (n, d)`: the exact E[eps | y] of `mix`
    diffused to y = mean_coeff * y0 + std * eps (JAX, jitted)."""

    @jax.jit
    def eps(y, m, s):
        means = m * mix.means
        var = (m * mix.stds) ** 2 + s**2
        logp = (
            jnp.log(mix.weights)
            - 0.5 * jnp.sum(jnp.log(var), axis=1)
            - 0.5 * jnp.sum((y[:, None, :] - means) ** 2 / var, axis=2)
        )
        r = jax.nn.softmax(logp, axis=1)
        score = jnp.sum(r[:, :, None] * (means - y[:, None, :]) / var, axis=1)
        return -s * score

    return eps


def peers(nfe):
    """`{name: callable(eps_fn, n, seed) -> (samples, nfe)}` for the installed
    peers, and a list of the missing ones."""
    found, missing = {}, []
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        missing.append("diffusers")
    else:
        for cls_name in (
            "DPMSolverMultistepScheduler",
            "UniPCMultistepScheduler",
            "DDIMScheduler",
            "EulerDiscreteScheduler",
        ):
            found[f"diffusers {cls_name}"] = _diffusers_sampler(cls_name, nfe)
    try:
        import k_diffusion.sampling  # noqa: F401
        import torch  # noqa: F401, F811
    except ImportError:
        missing.append("k-diffusion")
    else:
        found["k-diffusion sample_dpmpp_2m"] = _kdiffusion_sampler("dpmpp_2m", nfe)
        found["k-diffusion sample_heun"] = _kdiffusion_sampler("heun", nfe)
    return found, missing


DDPM_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=1e-4,
    beta_end=0.02,
    beta_schedule="linear",
    prediction_type="epsilon",
)


def _diffusers_sampler(cls_name, nfe):
    def run(eps_fn, n, seed):
        import diffusers
        import torch

        config = dict(DDPM_CONFIG)
        if cls_name == "DDIMScheduler":
            config["clip_sample"] = False  # its default clips y0 to [-1, 1] (images)
        sched = getattr(diffusers, cls_name)(**config)
        sched.set_timesteps(nfe)
        abar = sched.alphas_cumprod.double().numpy()
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 1, generator=g) * sched.init_noise_sigma
        count = 0
        for t in sched.timesteps:
            xin = sched.scale_model_input(x, t)
            if cls_name == "EulerDiscreteScheduler":
                sigma = float(sched.sigmas[sched.step_index])
                m = 1.0 / np.sqrt(1.0 + sigma**2)
                s = sigma * m
            else:
                a = abar[int(t)]
                m, s = np.sqrt(a), np.sqrt(1.0 - a)
            eps = eps_fn(jnp.asarray(xin.numpy()), m, s)
            count += 1
            x = sched.step(torch.from_numpy(np.array(eps)), t, x).prev_sample
        return x.numpy(), count

    return run


def _kdiffusion_sampler(kind, nfe):
    def run(eps_fn, n, seed):
        import torch
        from k_diffusion import sampling as ks

        betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float64)
        abar = np.cumprod(1.0 - betas)
        sig = np.sqrt((1.0 - abar) / abar)
        steps = nfe if kind == "dpmpp_2m" else max(1, (nfe + 1) // 2)
        sigmas = ks.get_sigmas_karras(steps, float(sig[0]), float(sig[-1]), rho=7.0)
        count = [0]

        def denoiser(x, sigma):
            sigma = float(sigma.reshape(-1)[0])
            m = 1.0 / np.sqrt(1.0 + sigma**2)
            eps = eps_fn(jnp.asarray((m * x).numpy()), m, sigma * m)
            count[0] += 1
            return x - sigma * torch.from_numpy(np.array(eps))

        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 1, generator=g) * sigmas[0]
        fn = ks.sample_dpmpp_2m if kind == "dpmpp_2m" else ks.sample_heun
        out = fn(denoiser, x, sigmas, disable=True)
        return out.numpy(), count[0]

    return run


def bench_peers(ref, nfes, seeds, n):
    rows = []
    eps_fn = exact_eps_fn(ref.mix)
    for nfe in nfes:
        found, missing = peers(nfe)
        if nfe == nfes[0]:
            for name in missing:
                print(f"  {name}: not installed (pip install scoresde[bench])")
        for name, fn in found.items():
            box = {}

            def sample(seed, fn=fn, box=box):
                ys, count = fn(eps_fn, n, seed)
                box["nfe"] = count
                return ys

            samples, compile_s, wall = run_seeds(sample, seeds)
            row = dict(
                dataset=ref.name,
                score="exact",
                sde="ddpm-linear-1000 (= vp)",
                sampler=name,
                config="library defaults",
                nfe_target=nfe,
                nfe=box["nfe"],
                n=n,
                seeds=len(seeds),
                wall_s=wall,
                compile_s=compile_s,
                **ref.quality(samples),
            )
            rows.append(row)
            print_row(row)
    return rows


# ------------------------------------------------------------------ speed
def bench_speed(nfe, n, repeats, run_dirs=(), mlp=True):
    """Each new sampler with a network score against the limit (NFE batched
    evaluations of the same batch), as benchmarks/sampling.py measures it."""
    sys.path.insert(0, str(HERE))
    import equinox as eqx
    from sampling import MLPScore, measure

    mix1 = ss.datasets.get("mixture-1d")
    cases = []
    if mlp:
        cases.append(
            (
                "mixture-1d, small MLP (sampling.py)",
                ss.VPSDE(),
                MLPScore(
                    eqx.nn.MLP(
                        2, 1, 64, 2, activation=jax.nn.silu, key=jax.random.key(1)
                    )
                ),
                mix1.sample(jax.random.key(100), n),
            )
        )
    for run_dir in run_dirs:
        run, ds = _load_run(run_dir)
        cases.append(
            (
                f"{ds}, trained {run.config['model']['parameterization']} network",
                run.sde,
                run.score,
                ss.datasets.get(ds).sample(jax.random.key(100), n),
            )
        )
    rows = []
    for label, sde, score, data in cases:
        for name, sampler in speed_samplers(nfe).items():
            _, timing = measure(sde, sampler, score, jnp.asarray(data), repeats)
            row = dict(case=label, sampler=name, n=n, **timing)
            rows.append(row)
            print(
                f"  {label:38s} {name:24s} nfe {timing['nfe_max']:3d}  wall "
                f"{timing['wall_s']:.4f}s  limit {timing['limit_s']:.4f}s  "
                f"x{timing['overhead']:.2f}  (CPU time x{timing['cpu_overhead']:.2f})  "
                f"compile {timing['compile_s']:.1f}s"
            )
    return rows


def _load_run(run_dir):
    run = ss.load(run_dir)
    info = read_source(run_dir)  # what `scoresde train` recorded about its data
    if "dataset" not in info:
        raise SystemExit(f"--run {run_dir}: trained on a file, not a named dataset")
    return run, info["dataset"]


# ------------------------------------------------------------------ output
def print_row(r):
    dist = "W1" if r["dataset"] == "mixture-1d" else "SW1"
    print(
        f"  {r['dataset']:14s} {r['score']:7s} {r['sde']:6.6s} {r['sampler']:36s} "
        f"nfe {r['nfe']:3d}  weight err {r['weight_err_mean']:.4f}"
        f"±{r['weight_err_std']:.4f}  {dist} {r['dist_mean']:.4f} (floor "
        f"{r['dist_floor']:.4f})  outliers {r['num_outliers']}/{r['n'] * r['seeds']}  "
        f"wall {r['wall_s']:.3f}s  compile {r['compile_s']:.1f}s",
        flush=True,
    )


def figure(rows, path):
    """Weight error and W1 against NFE: one row of panels per (dataset, SDE) in
    `rows` (exact score), the peers (DDPM schedule = VP) with the VP rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exact = [r for r in rows if r["score"] == "exact"]
    sde_of = lambda r: "vp" if r["sde"].startswith("ddpm") else r["sde"]
    combos = sorted({(r["dataset"], sde_of(r)) for r in exact})
    names = sorted({r["sampler"] for r in exact})
    colours = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    fig, axes = plt.subplots(
        len(combos), 2, figsize=(11, 3.6 * len(combos)), squeeze=False
    )
    for i, (ds, sde) in enumerate(combos):
        sel = [r for r in exact if r["dataset"] == ds and sde_of(r) == sde]
        for k, metric in enumerate(("weight_err_mean", "dist_mean")):
            ax = axes[i, k]
            for name in names:
                pts = sorted((r["nfe"], r[metric]) for r in sel if r["sampler"] == name)
                if pts:
                    peer = name.startswith(("diffusers", "k-diffusion"))
                    ax.plot(
                        *zip(*pts),
                        "--" if peer else "-",
                        marker="x" if peer else "o",
                        color=colours[name],
                        label=name,
                    )
            if metric == "dist_mean":
                ax.axhline(
                    sel[0]["dist_floor"], color="k", lw=0.8, ls=":", label="data floor"
                )
            dist = "W1" if ds == "mixture-1d" else "sliced W1"
            what = "max mode-weight error (mean over seeds)" if k == 0 else dist
            ax.set_title(f"{ds}, {sde}: {what}", fontsize=9)
            ax.set_yscale("log")
            ax.set_xlabel("score evaluations (NFE)")
            ax.grid(alpha=0.3, which="both")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Quality against NFE, exact score (benchmarks/fast_sampling.py)")
    fig.tight_layout(rect=(0, 0.05 + 0.04 / len(combos), 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def markdown(results):
    """Markdown tables of results (for docs/sampling.md): per dataset and score, one
    row per sampler and SDE, one column per NFE with "weight error / distance"
    (and the outliers when there are any); then wall and compile times; then the
    speed against the limit."""
    lines = []
    groups = {}
    for r in results["rows"]:
        groups.setdefault((r["dataset"], r["score"]), []).append(r)
    for (ds, score), sel in groups.items():
        dist = "W1" if ds == "mixture-1d" else "sliced W1"
        nfes = sorted({r["nfe_target"] for r in sel})
        seeds = sorted({r["seeds"] for r in sel})
        seeds = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"
        lines += [
            f"**{ds}, {score} score**: max mode-weight error (mean over "
            f"{seeds} seed(s)) / {dist} (data-vs-data floor "
            f"{sel[0]['dist_floor']:.3f}), {sel[0]['n']:,} samples a seed; outliers "
            "over all seeds' samples where there are any. The NFE of a column is the "
            "target; Heun samplers use one fewer (odd) or the even number below.",
            "",
            "| sampler | SDE | " + " | ".join(f"NFE {k}" for k in nfes) + " |",
            "| --- | --- | " + " | ".join("---" for _ in nfes) + " |",
        ]
        keys = sorted({(r["sampler"], r["sde"]) for r in sel})
        for name, sde in keys:
            cells = []
            for k in nfes:
                r = [
                    r
                    for r in sel
                    if (r["sampler"], r["sde"], r["nfe_target"]) == (name, sde, k)
                ]
                if not r:
                    cells.append("")
                    continue
                r = r[0]
                cell = f"{r['weight_err_mean']:.4f} / {r['dist_mean']:.3f}"
                if r["num_outliers"]:
                    cell += f" ({r['num_outliers']} outliers)"
                cells.append(cell)
            lines.append(f"| {name} | {sde} | " + " | ".join(cells) + " |")
        lines.append("")
        if sel[0]["seeds"] > 1:
            lines += [
                f"Wall time of a compiled call / compile time, seconds ({ds}, {score}):",
                "",
                "| sampler | SDE | " + " | ".join(f"NFE {k}" for k in nfes) + " |",
                "| --- | --- | " + " | ".join("---" for _ in nfes) + " |",
            ]
            for name, sde in keys:
                cells = []
                for k in nfes:
                    r = [
                        r
                        for r in sel
                        if (r["sampler"], r["sde"], r["nfe_target"]) == (name, sde, k)
                    ]
                    cells.append(
                        f"{r[0]['wall_s']:.2f} / {max(r[0]['compile_s'], 0.0):.1f}"
                        if r
                        else ""
                    )
                lines.append(f"| {name} | {sde} | " + " | ".join(cells) + " |")
            lines.append("")
    if results.get("speed"):
        lines += [
            "| score | sampler | NFE | wall s | limit s | wall / limit "
            "| CPU time / limit's |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in results["speed"]:
            cpu = f"{r['cpu_overhead']:.2f}" if "cpu_overhead" in r else ""
            lines.append(
                f"| {r['case']} | {r['sampler']} | {r['nfe_max']} | {r['wall_s']:.4f} "
                f"| {r['limit_s']:.4f} | {r['overhead']:.2f} | {cpu} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--num-samples", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per row")
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        help="a trained run directory (on a Gaussian-mixture dataset): add rows with "
        "its model; may be repeated",
    )
    parser.add_argument(
        "--runs-only",
        action="store_true",
        help="only the --run rows (results in fast_sampling_runs.json)",
    )
    parser.add_argument(
        "--nfes", type=int, nargs="+", default=None, help=f"default {list(NFES)}"
    )
    parser.add_argument(
        "--sdes", nargs="+", choices=list(SDES), default=None, help="default all"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["mixture-1d", "nine-gaussians"],
        default=None,
        help="exact-score rows on these datasets (default both)",
    )
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="only the speed rows (results in fast_sampling_speed.json)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs of each sampler and its limit, alternately (default 4)",
    )
    parser.add_argument(
        "--out", default=None, help="results file name under benchmarks/results/"
    )
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument(
        "--report",
        metavar="JSON",
        nargs="+",
        default=None,
        help="print results files as Markdown tables (and draw the figure from "
        "them) instead of running",
    )
    args = parser.parse_args()
    if args.report is not None:
        results = dict(rows=[], speed=[])
        for path in args.report:
            part = json.loads(Path(path).read_text())
            results["rows"] += part["rows"]
            results["speed"] += part.get("speed", [])
        print(markdown(results))
        if not args.no_figure:
            figure(results["rows"], FIGURE)
        return
    n = args.num_samples or (2000 if args.quick else 20_000)
    num_seeds = args.seeds or (2 if args.quick else 4)
    seeds = list(range(num_seeds))
    nfes = tuple(args.nfes or ((10, 20) if args.quick else NFES))
    sdes = tuple(args.sdes or (("vp",) if args.quick else SDES))
    datasets = tuple(args.datasets or ("mixture-1d", "nine-gaussians"))
    t0 = time.perf_counter()

    rows = []
    refs = {name: Reference(name, n) for name in ("mixture-1d", "nine-gaussians")}
    if args.out:
        name = args.out
    elif args.quick:
        name = "fast_sampling_quick.json"
    elif args.runs_only:
        name = "fast_sampling_runs.json"
    elif args.speed_only:
        name = "fast_sampling_speed.json"
    else:
        name = "fast_sampling.json"
    out = RESULTS / name
    speed = []

    def save():
        RESULTS.mkdir(exist_ok=True)
        meta = dict(
            command="python benchmarks/fast_sampling.py "
            + " ".join(
                "RUN_DIR" if a.startswith("/") or a == "~" else a for a in sys.argv[1:]
            ),
            n=n,
            seeds=num_seeds,
            jax=jax.__version__,
            scoresde=getattr(ss, "__version__", "?"),
            machine=f"{platform.machine()}, {jax.device_count()} "
            f"{jax.default_backend()} device(s)",
            total_s=time.perf_counter() - t0,
        )
        out.write_text(json.dumps(dict(meta=meta, rows=rows, speed=speed), indent=1))

    if not (args.runs_only or args.speed_only):
        for ds in datasets:
            ref = refs[ds]
            for sde_name in sdes:
                print(
                    f"== {ds}, {sde_name}, exact score, {n} samples x {num_seeds} seeds =="
                )
                sde = SDES[sde_name]()
                score = ss.exact_score(ref.mix, sde)
                rows += bench_ours(ref, sde, sde_name, score, "exact", nfes, seeds, n)
                save()
        print(
            f"== peers on mixture-1d, exact eps of the DDPM linear schedule, {n} samples =="
        )
        if not args.no_peers:
            rows += bench_peers(refs["mixture-1d"], nfes, seeds, n)
            save()
    for run_dir in [] if args.speed_only else args.run:
        run, ds = _load_run(run_dir)
        ref = refs.get(ds) or Reference(ds, n)
        if not isinstance(ref.mix, ss.datasets.GaussianMixture):
            raise SystemExit(f"--run: its dataset {ds!r} is not a Gaussian mixture")
        model = run.config["model"]
        # Runs from before the MLP's `output_norm` load with it (legacy config).
        norm = ", output LayerNorm" if getattr(run.model.net, "output_norm", 0) else ""
        label = f"trained ({model['parameterization']}{norm})"
        print(f"== {ds}, trained run {Path(run_dir).name} ({label}), {n} samples ==")
        sde_label = model["sde"]["kind"]
        rows += bench_ours(ref, run.sde, sde_label, run.score, label, nfes, seeds, n)
        save()
    if not args.no_speed:
        print("== speed with a network score: wall time against the limit ==")
        repeats = args.repeats or (2 if args.quick else 4)
        speed += bench_speed(20, n, repeats, args.run, mlp=not args.runs_only)
        save()
    print(f"wrote {out.relative_to(HERE.parent)} ({time.perf_counter() - t0:.0f} s)")
    if not (args.no_figure or args.quick or args.runs_only or args.speed_only):
        figure(rows, FIGURE)
        print(f"wrote {FIGURE.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
