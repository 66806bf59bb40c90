"""Images end to end: the digits recipe, its held-out bits/dim against the two
baselines, and its sample quality against the real-digits ceiling.

Trains the recipe (`scoresde train --dataset digits` with its defaults, on the
digits train split) into `--run-dir`, or loads it when that directory already
holds the finished run, then prints one table:

- rows: the real digits (the ceiling), the per-pixel Gaussian and uniform
  baselines (bits/dim only), and the model sampled with the probability-flow ODE
  (adaptive Tsit5), the reverse SDE (Euler-Maruyama) and the best few-step
  sampler available at 20 NFE;
- columns: held-out bits/dim (test split, dequantised, Hutchinson trace with one
  Rademacher probe per image: an unbiased estimate), confident share, class KL,
  Fréchet distance (`ss.metrics.digits_quality`, 355 samples against the 355
  test images), NFE per sample, sampling wall time, training time.

Run from the repository root:

    python benchmarks/images.py                      # trains runs/digits, evaluates
    python benchmarks/images.py --run-dir R          # reuse (or finish) the run in R
    python benchmarks/images.py --quick              # smoke run (tiny, minutes)

Saves `benchmarks/results/images.json` (`images_quick.json` with --quick).
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


RESULTS = Path(__file__).resolve().parent / "results"

#: The recipe is `scoresde train --dataset digits`'s defaults (see
#: `scoresde train --help`): a (16, 32) UNet, VP SDE, v-prediction, 3000 steps
#: of batch 128. `--quick` shortens it for a smoke run.
RECIPE = dict(steps=None, channels=None)
QUICK = dict(steps=300, channels="8,16")


def machine() -> dict:
    """Where the numbers were measured (the results JSON's `machine`)."""
    return {
        "platform": platform.platform(),
        "devices": [str(d) for d in jax.devices()],
    }


def run_command(run_dir, flags):
    """The finished run of `scoresde train --dataset digits FLAGS` in `run_dir`
    (trained here, or resumed, when it is missing or unfinished, or was trained
    with other flags) and the command's cost (wall and CPU seconds, when it ran
    here). Also used by `conditional_digits.py`."""
    import subprocess

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    info_file = run_dir / "benchmark_train.json"
    command = [sys.executable, "-m", "scoresde", "train", "--dataset", "digits"]
    command += [*flags, "--out", str(run_dir), "--quiet"]
    info = json.loads(info_file.read_text()) if info_file.exists() else {}
    if info.get("command") != command[1:]:
        print("training:", " ".join(command[1:]), flush=True)
        t0, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run(command, check=True)
        info = {
            "command": command[1:],
            "train_wall_s": time.perf_counter() - t0,
            "train_cpu_s": _children_cpu() - cpu0,
        }
        info_file.write_text(json.dumps(info, indent=2))
    run = ss.load(run_dir)
    info["steps"] = int(run.step)
    print(f"loaded the trained run from {run_dir} (step {run.step})", flush=True)
    return run, info


def train_or_load(recipe, run_dir):
    """The recipe's EMA score, its SDE and the training record."""
    flags = []
    if recipe["steps"] is not None:
        flags += ["--steps", str(recipe["steps"])]
    if recipe["channels"] is not None:
        flags += ["--channels", recipe["channels"]]
    run, info = run_command(run_dir, flags)
    info["final_loss_mean_last_500"] = float(np.mean(run.losses[-500:]))
    return run.score, run.sde, info


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def few_step_sampler():
    """The best few-step sampler that this checkout has, at 20 NFE."""
    if hasattr(ss, "DPMSolver"):
        return "DPM-Solver++(2M), 20 steps", ss.DPMSolver(num_steps=20, order=2)
    # Fallback: the probability-flow ODE with 10 equal Heun steps (2 NFE each).
    return "PF-ODE, 10 Heun steps", ss.ProbabilityFlowODE(
        solver=diffrax.Heun(), num_steps=10
    )


def sample_row(name, sampler, sde, score, n, key):
    t0 = time.perf_counter()
    ys, stats = ss.sample(
        key,
        sde,
        score,
        num_samples=n,
        shape=(1, 8, 8),
        sampler=sampler,
        return_stats=True,
    )
    ys = jax.block_until_ready(ys)
    wall = time.perf_counter() - t0
    quality = ss.metrics.digits_quality(ys)
    return {
        "row": name,
        **quality.as_dict(),
        "nfe": float(np.mean(np.asarray(stats["nfe"]))),
        "sample_wall_s": wall,
    }, ys


FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def make_figures(sde, score):
    """The tutorial's figures: a grid of samples and a reverse-process strip."""
    ys = ss.sample(jax.random.key(20), sde, score, num_samples=64, shape=(1, 8, 8))
    ss.plotting.plot_image_grid(ys, ncols=16, path=FIGURES / "images_samples.png")
    test = ss.datasets.get("digits", split="test")
    ss.plotting.plot_image_grid(
        test.images[:64], ncols=16, path=FIGURES / "images_test_digits.png"
    )
    times = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 1e-3]
    paths = ss.sample(
        jax.random.key(21),
        sde,
        score,
        num_samples=6,
        shape=(1, 8, 8),
        sampler=ss.ReverseSDE(num_steps=500),
        save_ts=times,
    )
    ss.plotting.plot_image_strip(paths, times, path=FIGURES / "images_strip.png")
    print(f"figures written to {FIGURES}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--run-dir", default=None, help="default runs/digits")
    parser.add_argument("--num-samples", type=int, default=355)
    parser.add_argument("--bpd-images", type=int, default=None)
    parser.add_argument(
        "--figures", action="store_true", help="only write the tutorial's figures"
    )
    args = parser.parse_args()
    recipe = QUICK if args.quick else RECIPE
    train = ss.datasets.get("digits", split="train")
    test = ss.datasets.get("digits", split="test")
    n = 64 if args.quick else args.num_samples
    bpd_images = args.bpd_images or (16 if args.quick else test.images.shape[0])

    run_dir = args.run_dir or ("runs/digits-quick" if args.quick else "runs/digits")
    score, sde, info = train_or_load(recipe, run_dir)
    if args.figures:
        make_figures(sde, score)
        return

    # Held-out bits/dim: the model (Hutchinson, one probe, unbiased) and baselines.
    t0 = time.perf_counter()
    bpd, stats = ss.bits_per_dim(
        jax.random.key(7),
        sde,
        score,
        test.pixels[:bpd_images],
        num_levels=17,
        divergence=ss.Hutchinson(),
        return_stats=True,
    )
    bpd = np.asarray(bpd, np.float64)
    bpd_wall = time.perf_counter() - t0
    gauss = ss.metrics.gaussian_bits_per_dim(
        test.pixels[:bpd_images], train_pixels=train.pixels, num_levels=17
    )
    model_bpd = {
        "mean": float(bpd.mean()),
        "stderr": float(bpd.std(ddof=1) / np.sqrt(bpd.size)),
        "num_images": int(bpd.size),
        "likelihood_nfe": float(np.mean(np.asarray(stats["nfe"]))),
        "wall_s": bpd_wall,
        "gaussian_paired_margin": float(np.mean(gauss - bpd)),
        "gaussian_paired_margin_stderr": float(
            np.std(gauss - bpd, ddof=1) / np.sqrt(bpd.size)
        ),
    }
    rows = []
    # The ceiling: real digits. Confident share and class KL of the held-out test
    # split; the Fréchet distance of as many train-split images (real digits other
    # than the reference) to the test split.
    real = ss.metrics.digits_quality(test.images)
    # A fixed random draw of train-split digits: the first ones of the split
    # come from fewer writers and sit further from the test split (0.42 vs 0.19).
    pick = np.random.default_rng(0).choice(
        train.images.shape[0], test.images.shape[0], replace=False
    )
    other = ss.metrics.digits_quality(np.asarray(train.images)[pick])
    rows.append(
        {
            "row": "real digits (ceiling)",
            "confident_share": real.confident_share,
            "class_kl": real.class_kl,
            "frechet_distance": other.frechet_distance,
            "num_samples": real.num_samples,
        }
    )
    noise = jax.random.uniform(jax.random.key(9), (n, 1, 8, 8), minval=-1.0, maxval=1.0)
    rows.append({"row": "uniform noise", **ss.metrics.digits_quality(noise).as_dict()})
    rows.append(
        {
            "row": "per-pixel Gaussian",
            "bits_per_dim": float(gauss.mean()),
            **ss.metrics.digits_quality(
                jnp.mean(train.images, 0)
                + jnp.std(train.images, 0)
                * jax.random.normal(jax.random.key(10), (n, 1, 8, 8))
            ).as_dict(),
        }
    )
    rows.append(
        {"row": "uniform bound", "bits_per_dim": ss.metrics.uniform_bits_per_dim(17)}
    )
    few_name, few = few_step_sampler()
    samplers = [
        ("model, PF-ODE (Tsit5, rtol=atol=1e-5)", ss.ProbabilityFlowODE()),
        (
            "model, reverse SDE (Euler-Maruyama, 500 steps)",
            ss.ReverseSDE(num_steps=500),
        ),
        (f"model, {few_name}", few),
    ]
    samples = {}
    for i, (name, sampler) in enumerate(samplers):
        row, ys = sample_row(name, sampler, sde, score, n, jax.random.key(100 + i))
        row["bits_per_dim"] = model_bpd["mean"]
        row["train_wall_s"] = info["train_wall_s"]
        rows.append(row)
        samples[name] = np.asarray(ys)
        print(f"{name}: done", flush=True)

    header = (
        f"{'row':48s} {'bits/dim':>8s} {'conf':>6s} {'classKL':>8s} {'FD':>7s} "
        f"{'NFE':>6s} {'wall s':>7s} {'train s':>8s}"
    )
    print(header)
    print("-" * len(header))

    def fmt(v, spec):
        return format(v, spec) if v is not None else "-".rjust(len(format(0.0, spec)))

    for r in rows:
        print(
            f"{r['row']:48s} {fmt(r.get('bits_per_dim'), '8.3f')} "
            f"{fmt(r.get('confident_share'), '6.3f')} {fmt(r.get('class_kl'), '8.4f')} "
            f"{fmt(r.get('frechet_distance'), '7.3f')} {fmt(r.get('nfe'), '6.0f')} "
            f"{fmt(r.get('sample_wall_s'), '7.1f')} {fmt(r.get('train_wall_s'), '8.0f')}"
        )
    print(
        f"model bits/dim {model_bpd['mean']:.3f} ± {model_bpd['stderr']:.3f} on "
        f"{model_bpd['num_images']} test images (likelihood NFE "
        f"{model_bpd['likelihood_nfe']:.0f}); beats the Gaussian by "
        f"{model_bpd['gaussian_paired_margin']:.3f} ± "
        f"{model_bpd['gaussian_paired_margin_stderr']:.3f} and the uniform bound by "
        f"{ss.metrics.uniform_bits_per_dim(17) - model_bpd['mean']:.3f} bits/dim"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("images_quick.json" if args.quick else "images.json")
    out.write_text(
        json.dumps(
            {
                "recipe": recipe,
                "training": info,
                "bits_per_dim": model_bpd,
                "rows": rows,
                "machine": machine(),
            },
            indent=2,
        )
    )
    np.savez(
        RESULTS / ("images_samples_quick.npz" if args.quick else "images_samples.npz"),
        **{f"s{i}": v for i, v in enumerate(samples.values())},
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
