"""Class-conditional digits: classifier-free guidance against a held-out classifier,
and inpainting of the bottom half of test digits.

Trains `scoresde train --dataset digits --conditional` (the digits recipe with
label dropout 0.1) into `--run-dir`, or loads it when the run there is finished,
then, for each guidance weight w:

- samples `--per-class` digits of every class with DPM-Solver++(2M) at 20 steps;
- reports the share that `ss.metrics.digits_classifier()` (trained on the train
  split only) assigns to the requested class (accuracy), the share it reads with
  confidence > 0.9, and the KL of the pooled class histogram against uniform
  (ideally 0: the classes are requested in equal numbers) next to the mean
  within-class pixel standard deviation (diversity, which guidance trades away).

It also restores the bottom half of 16 test digits from their top half
(`ss.impute`, replacement and reconstruction guidance) and reports the mean
squared error of the restored half and the classifier's agreement with the true
label. Writes `docs/figures/conditional_digits_guidance.png` (one row per class,
a block of samples per w), `docs/figures/conditional_digits_inpainting.png` and
`benchmarks/results/conditional_digits.json`.

    python benchmarks/conditional_digits.py                   # trains runs/digits-cond
    python benchmarks/conditional_digits.py --run-dir R       # reuse / finish R
    python benchmarks/conditional_digits.py --quick           # smoke run
"""

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from images import (
    machine,
    run_command,
)  # benchmarks/ is on the path when run as a script

import scoresde as ss


ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures"
WEIGHTS = (0.0, 1.0, 2.0, 4.0)


def train_or_load(run_dir: Path, steps: int | None):
    """The finished conditional run in `run_dir` (trained or resumed here by the
    command line when it is missing or unfinished) and the training cost."""
    flags = ["--conditional"] + ([] if steps is None else ["--steps", str(steps)])
    return run_command(run_dir, flags)


def guidance_rows(run, per_class: int, weights, sampler):
    classifier = ss.metrics.digits_classifier()
    labels = jnp.repeat(jnp.arange(10), per_class)
    rows, grids = [], []
    for i, w in enumerate(weights):
        t0 = time.perf_counter()
        ys = ss.sample(
            jax.random.key(300 + i),
            run.sde,
            run.score,
            num_samples=labels.size,
            shape=(1, 8, 8),
            sampler=sampler,
            labels=labels,
            guidance=w,
        )
        ys = jax.block_until_ready(ys)
        wall = time.perf_counter() - t0
        probs = np.asarray(jax.vmap(lambda y: jax.nn.softmax(classifier(y)))(ys))
        predicted = probs.argmax(-1)
        histogram = np.bincount(predicted, minlength=10) / predicted.size
        nonzero = histogram > 0
        kl = float(np.sum(histogram[nonzero] * np.log(histogram[nonzero] * 10)))
        per_class_std = np.asarray(ys).reshape(10, per_class, -1).std(axis=1).mean()
        rows.append(
            {
                "guidance": w,
                "accuracy": float(np.mean(predicted == np.asarray(labels))),
                "confident_share": float(np.mean(probs.max(-1) > 0.9)),
                "class_kl": kl,
                "within_class_pixel_std": float(per_class_std),
                "sample_wall_s": wall,
            }
        )
        grids.append(np.asarray(ys).reshape(10, per_class, 1, 8, 8))
        print(json.dumps(rows[-1]), flush=True)
    return rows, grids


def guidance_figure(grids, weights, shown: int, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(weights), figsize=(2.1 * len(weights), 5.2))
    for ax, grid, w in zip(axes, grids, weights, strict=True):
        block = grid[:, :shown, 0]  # (10, shown, 8, 8)
        mosaic = np.pad(block, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-1)
        mosaic = mosaic.transpose(0, 2, 1, 3).reshape(10 * 10, shown * 10)
        ax.imshow(np.clip(mosaic, -1, 1), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(f"w = {w:g}")
        ax.set_xticks([])
        ax.set_yticks(np.arange(10) * 10 + 4.5, [str(k) for k in range(10)])
    axes[0].set_ylabel("requested class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def inpainting(run, count: int, sampler):
    """Restore the bottom half of `count` test digits from the top half."""
    test = ss.datasets.get("digits", split="test")
    images = np.asarray(test.images[::22][:count])
    labels = np.asarray(test.labels[::22][:count])
    mask = np.zeros((1, 8, 8), bool)
    mask[:, :4, :] = True  # the top half is observed
    classifier = ss.metrics.digits_classifier()
    out, rows = {}, []
    for name, method, weight in (
        ("replacement", "replacement", None),
        ("reconstruction guidance (w_r = 1)", "reconstruction", 1.0),
    ):
        kwargs = {} if weight is None else {"reconstruction_weight": weight}
        restored = ss.impute(
            jax.random.key(400),
            run.sde,
            run.score,
            images,
            mask,
            sampler=sampler,
            method=method,
            **kwargs,
        )
        restored = np.asarray(restored)
        predicted = np.asarray(jax.vmap(lambda y: classifier(y).argmax())(restored))
        rows.append(
            {
                "method": name,
                "bottom_half_mse": float(np.mean((restored - images)[:, :, 4:] ** 2)),
                "classifier_agrees_with_label": float(np.mean(predicted == labels)),
            }
        )
        out[name] = restored
        print(json.dumps(rows[-1]), flush=True)
    return images, mask, out, rows


def inpainting_figure(images, mask, restored: dict, path: Path):
    observed = np.where(mask, images, -1.0)
    rows = [images, observed, *restored.values()]
    ss.plotting.plot_image_grid(np.concatenate(rows), ncols=images.shape[0], path=path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=None, help="default runs/digits-cond")
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    run_dir = Path(
        args.run_dir or ("runs/digits-cond-quick" if args.quick else "runs/digits-cond")
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    run, info = train_or_load(run_dir, 200 if args.quick else None)
    per_class = 4 if args.quick else args.per_class
    sampler = ss.DPMSolver(num_steps=20)
    rows, grids = guidance_rows(run, per_class, WEIGHTS, sampler)
    FIGURES.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    guidance_figure(
        grids,
        WEIGHTS,
        min(per_class, 4),
        FIGURES / f"conditional_digits_guidance{suffix}.png",
    )
    images, mask, restored, inpaint_rows = inpainting(
        run, 4 if args.quick else 16, ss.ReverseSDE(num_steps=200)
    )
    inpainting_figure(
        images, mask, restored, FIGURES / f"conditional_digits_inpainting{suffix}.png"
    )
    print(
        f"{'w':>4s} {'accuracy':>9s} {'conf>0.9':>9s} {'class KL':>9s} {'pixel std':>9s}"
    )
    for r in rows:
        print(
            f"{r['guidance']:4g} {r['accuracy']:9.3f} {r['confident_share']:9.3f} "
            f"{r['class_kl']:9.4f} {r['within_class_pixel_std']:9.3f}"
        )
    for r in inpaint_rows:
        print(
            f"inpainting, {r['method']}: bottom-half MSE {r['bottom_half_mse']:.3f}, "
            f"classifier agrees with the label {r['classifier_agrees_with_label']:.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"conditional_digits{suffix}.json").write_text(
        json.dumps(
            {
                "training": info,
                "per_class": per_class,
                "sampler": "DPMSolver(num_steps=20)",
                "guidance": rows,
                "inpainting": inpaint_rows,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
