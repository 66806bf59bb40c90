"""Conditional generation against exact answers: labels, guidance and imputation.

With the Gaussian-mixture oracle (`ss.exact_score(mix, sde)(t, y, k)` is the exact
score of component k's p_t) every number below has an exact reference:

1. **Per-class agreement at w = 0** (nine-gaussians, every class): the share of
   mode weight (mean posterior responsibility) that class-k samples put on
   component k (exact: 1, up to the 1e-15 overlap of the components), and the
   error of their mean and std against component k's (mu_k, 0.25).
2. **Guidance** (two overlapping 1-D classes N(-1, 1), N(1, 1)): class purity
   E[p(1 | y)] of class-1 samples against w (exact at w = 0).
3. **Imputation** (observe x, impute y): nine-gaussians at x = 2 and x = 1
   (between two columns), and a correlated mixture along y = x (components wide
   in x, narrow in y) at x = 0, 1, 2.5: the largest error of the imputed mode
   weights against the exact conditional `mix.condition(mask, x)`, and the
   Wasserstein-1 distance of the imputed y to exact conditional samples (next to
   the W1 between two exact samples of the same size, the noise floor), for
   replacement and reconstruction guidance (w_r = 1, 4).

With `--trained`, also a class-conditional MLP trained on nine-gaussians (label
dropout 0.1) and the same per-class figures, with its guidance sweep.

Run from the repository root:

    python benchmarks/conditional.py              # ~5 minutes on 2 busy CPU cores
    python benchmarks/conditional.py --quick      # smoke run
    python benchmarks/conditional.py --trained    # + a trained model (longer)
    python benchmarks/conditional.py --output-norm-comparison   # ~8 minutes

Saves `benchmarks/results/conditional.json` (`conditional_quick.json` with
`--quick`).
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
MASK_X = np.array([True, False])


def correlated_mixture():
    """Three components along y = x, std 1 in x and 0.3 in y."""
    return ss.datasets.GaussianMixture(
        [0.4, 0.2, 0.4], [[-2.0, -2.0], [0.0, 0.0], [2.0, 2.0]], [[1.0, 0.3]] * 3
    )


def overlapping_1d():
    return ss.datasets.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [1.0, 1.0])


def responsibilities(mix, ys):
    return np.asarray(jax.vmap(mix.responsibilities)(jnp.asarray(ys)))


def per_class(sde, score_fn, mix, n, sampler, guidance=0.0):
    rows = []
    for k in range(mix.num_classes):
        t0 = time.perf_counter()
        ys = np.asarray(
            ss.sample(
                jax.random.key(100 + k),
                sde,
                score_fn,
                num_samples=n,
                shape=mix.shape,
                sampler=sampler,
                labels=k,
                guidance=guidance,
            )
        )
        wall = time.perf_counter() - t0
        weights = responsibilities(mix, ys).mean(0)
        rows.append(
            dict(
                label=k,
                weight_on_class=float(weights[k]),
                mean_error=float(np.abs(ys.mean(0) - np.asarray(mix.means[k])).max()),
                std_error=float(np.abs(ys.std(0) - np.asarray(mix.stds[k])).max()),
                wall_s=wall,
            )
        )
    return rows


def guidance_sweep(sde, score_fn, mix, label, n, sampler, ws):
    rows = []
    for w in ws:
        ys = ss.sample(
            jax.random.key(7),
            sde,
            score_fn,
            num_samples=n,
            shape=mix.shape,
            sampler=sampler,
            labels=label,
            guidance=w,
        )
        r = responsibilities(mix, ys)
        rows.append(
            dict(
                guidance=w,
                purity=float(r[:, label].mean()),
                mode_weights=r.mean(0).tolist(),
                mean=np.asarray(ys).mean(0).tolist(),
            )
        )
    return rows


def exact_purity(mix, label, n=400_000):
    ys, ks = mix.sample_with_labels(jax.random.key(11), n)
    return float(responsibilities(mix, ys)[np.asarray(ks) == label, label].mean())


def imputation(sde, score_fn, mix, x_obs, n, sampler, method, weight=1.0):
    observed = np.tile(np.array([x_obs, np.nan]), (n, 1))
    t0 = time.perf_counter()
    ys = np.asarray(
        ss.impute(
            jax.random.key(0),
            sde,
            score_fn,
            observed,
            MASK_X,
            sampler=sampler,
            method=method,
            reconstruction_weight=weight,
        )
    )
    wall = time.perf_counter() - t0
    assert np.all(ys[:, 0] == np.float32(x_obs))
    cond = mix.condition(MASK_X, [x_obs])
    got = responsibilities(cond, ys[:, 1:]).mean(0)
    exact = np.asarray(cond.weights)
    reference = np.asarray(cond.sample(jax.random.key(1), 20 * n))
    return dict(
        x=x_obs,
        method=method,
        reconstruction_weight=weight if method == "reconstruction" else None,
        weight_error=float(np.abs(got - exact).max()),
        mode_weights=got.tolist(),
        exact_weights=exact.tolist(),
        w1=ss.metrics.wasserstein_1d(ys[:, 1], reference),
        wall_s=wall,
    )


def w1_floor(mix, x_obs, n):
    cond = mix.condition(MASK_X, [x_obs])
    a = np.asarray(cond.sample(jax.random.key(2), n))
    b = np.asarray(cond.sample(jax.random.key(3), 20 * n))
    return ss.metrics.wasserstein_1d(a, b)


def imputation_table(sde, score_fn, cases, n, sampler, methods):
    rows = []
    for mix_name, mix, xs in cases:
        for x_obs in xs:
            floor = w1_floor(mix, x_obs, n)
            for method, weight in methods:
                row = imputation(
                    sde, score_fn(mix), mix, x_obs, n, sampler, method, weight
                )
                row.update(mixture=mix_name, w1_exact_floor=floor)
                rows.append(row)
                print(
                    f"  {mix_name:14s} x={x_obs:4.1f} {method:14s} "
                    f"w_r={weight if method == 'reconstruction' else '-':>4} "
                    f"weight err {row['weight_error']:.3f}  W1 {row['w1']:.3f} "
                    f"(floor {floor:.3f})  {row['wall_s']:.1f}s"
                )
    return rows


def train_conditional(steps, key, *, conditional=True, output_norm=False):
    """The nine-gaussians MLP of `--trained` (class-conditional, label dropout
    0.1; unconditional with `conditional=False`): the training result."""
    mix = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()
    net = ss.nets.MLP(
        (2,),
        num_classes=9 if conditional else None,
        output_norm=output_norm,
        key=key,
    )
    return ss.train(
        ss.ScoreModel(net, sde),
        mix,
        key=jax.random.fold_in(key, 1),
        steps=steps,
        batch_size=512,
        label_dropout=0.1 if conditional else 0.0,
        progress=False,
    )


def output_norm_comparison(n, sampler, seeds=(0, 1), steps=4000):
    """Imputation on nine-gaussians with trained MLPs with and without the
    LayerNorm before the output (`output_norm`): the class-conditional one's null
    label (as `--trained`, EMA weights) and an unconditional one."""
    nine = ss.datasets.get("nine-gaussians")
    sde = ss.VPSDE()  # as train_conditional's
    methods = [("replacement", 1.0), ("reconstruction", 1.0)]
    rows = []
    for seed in seeds:
        for conditional in (True, False):
            for output_norm in (True, False):
                model = train_conditional(
                    steps,
                    jax.random.key(seed),
                    conditional=conditional,
                    output_norm=output_norm,
                ).ema_model
                print(
                    f"seed {seed} conditional={conditional} output_norm={output_norm}"
                )
                table = imputation_table(
                    sde,
                    lambda mix, model=model: model,
                    [("nine-gaussians", nine, (2.0, 1.0))],
                    n,
                    sampler,
                    methods,
                )
                rows += [
                    dict(seed=seed, conditional=conditional, output_norm=output_norm,
                         **r)
                    for r in table
                ]  # fmt: skip
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trained", action="store_true")
    parser.add_argument("--train-steps", type=int, default=20_000)
    parser.add_argument(
        "--output-norm-comparison",
        action="store_true",
        help="only: imputation with trained MLPs with and without output_norm "
        "(results in conditional_output_norm.json)",
    )
    args = parser.parse_args()
    n = 500 if args.quick else 4000
    steps = 50 if args.quick else 500
    sampler = ss.ReverseSDE(num_steps=steps)
    sde = ss.VPSDE()
    out = dict(
        platform=platform.platform(),
        devices=[str(d) for d in jax.devices()],
        n=n,
        sampler=f"ReverseSDE(num_steps={steps}) (Euler-Maruyama + Tweedie denoising)",
    )

    if args.output_norm_comparison:
        out["rows"] = output_norm_comparison(n, sampler)
        path = RESULTS / "conditional_output_norm.json"
        path.write_text(json.dumps(out, indent=1))
        print(f"wrote {path}")
        return

    nine = ss.datasets.get("nine-gaussians")
    exact_nine = ss.exact_score(nine, sde)
    print(f"Per-class agreement at w = 0, nine-gaussians, exact score, n = {n}")
    rows = per_class(sde, exact_nine, nine, n, sampler)
    for r in rows:
        print(
            f"  class {r['label']}: weight on class {r['weight_on_class']:.5f}  "
            f"mean err {r['mean_error']:.4f}  std err {r['std_error']:.4f}"
        )
    out["per_class_exact"] = rows

    two = overlapping_1d()
    ws = (0.0, 0.5, 1.0, 2.0, 4.0)
    print("Guidance on two overlapping classes (class 1), exact score")
    sweep = guidance_sweep(sde, ss.exact_score(two, sde), two, 1, n, sampler, ws)
    truth = exact_purity(two, 1)
    for r in sweep:
        print(f"  w = {r['guidance']:3.1f}: purity {r['purity']:.4f}")
    print(f"  exact purity at w = 0: {truth:.4f}")
    out["guidance_exact"] = dict(rows=sweep, exact_purity_w0=truth)

    print("Imputation (observe x, impute y), exact score")
    cases = [
        ("nine-gaussians", nine, (2.0, 1.0)),
        ("correlated", correlated_mixture(), (0.0, 1.0, 2.5)),
    ]
    methods = [
        ("replacement", 1.0),
        ("reconstruction", 1.0),
        ("reconstruction", 4.0),
        ("reconstruction", 8.0),
    ]
    out["imputation_exact"] = imputation_table(
        sde, lambda mix: ss.exact_score(mix, sde), cases, n, sampler, methods
    )

    if args.trained:
        t0 = time.perf_counter()
        model = train_conditional(
            200 if args.quick else args.train_steps, jax.random.key(0)
        ).model
        train_s = time.perf_counter() - t0
        print(f"Trained conditional nine-gaussians MLP in {train_s:.0f}s")
        rows = per_class(sde, model, nine, n, sampler)
        for r in rows:
            print(
                f"  class {r['label']}: weight on class {r['weight_on_class']:.4f}  "
                f"mean err {r['mean_error']:.4f}  std err {r['std_error']:.4f}"
            )
        sweep = guidance_sweep(sde, model, nine, 4, n, sampler, (0.0, 1.0, 4.0))
        for r in sweep:
            print(f"  w = {r['guidance']:3.1f}: purity {r['purity']:.5f}")
        # imputation with the trained model's unconditional (null-label) score
        imp = imputation_table(
            sde,
            lambda mix: model,
            [("nine-gaussians", nine, (2.0, 1.0))],
            n,
            sampler,
            methods[:2],
        )
        out["trained"] = dict(
            train_steps=args.train_steps,
            train_s=train_s,
            per_class=rows,
            guidance=sweep,
            imputation=imp,
        )

    RESULTS.mkdir(exist_ok=True)
    name = "conditional_quick.json" if args.quick else "conditional.json"
    (RESULTS / name).write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
