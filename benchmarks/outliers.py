"""Where trained models' outliers come from, and what removes them (issue 10).

The demo's nine-gaussians training (`scoresde demo`: sub-VP SDE, v-prediction,
MLP of width 128 and depth 3, 3,000 steps of batch 512, score weighting) is
repeated for each network variant and training seed, and each model draws many
samples with a few-step sampler; the table gives the outliers
(`ss.metrics.outlier_fraction`: more than 6 standard deviations, Mahalanobis,
from every component) and the max mode-weight error.

Variants: the MLP with a LayerNorm before its output (`output_norm=True`, the
first release's architecture) and without it (the default), each with the
data's std as `data_std` (the demo's and the command line's choice), plus the
default MLP with `data_std=0.5` (the modes' scale rather than the data's).

`--origin` adds the time-split experiment for the first variant: the sampler
runs with the network's score above a time tau and the exact score of p_t
below it. If the outliers are made above tau, the exact score below cannot
remove them (the flow maps a point in p_tau's tail into p_0's tail).

    python benchmarks/outliers.py --origin         # about 9 minutes on 2 cores
    python benchmarks/outliers.py --quick          # a smoke run

Results go to benchmarks/results/outliers.json.
"""

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import scoresde as ss


HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MIX = ss.datasets.get("nine-gaussians")
SDE = ss.SubVPSDE(beta_min=0.1, beta_max=20.0)
DATA_STD = float(np.sqrt(np.mean(np.asarray(MIX.variance))))


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    output_norm: bool
    data_std: float


VARIANTS = (
    Variant("LayerNorm before the output, data_std = data's std", True, DATA_STD),
    Variant("no LayerNorm (default), data_std = data's std", False, DATA_STD),
    Variant("no LayerNorm (default), data_std = 0.5", False, 0.5),
)
SAMPLERS = {
    "DPM-Solver++(2M), 20 steps": ss.DPMSolver(num_steps=20),
    "EDM Heun, 35 NFE": ss.EDMHeun(num_steps=18),
    "DDIM, 35 steps": ss.DDIM(num_steps=35),
}


def train(variant: Variant, seed: int, steps: int, width: int):
    key_net, key_train = jax.random.split(jax.random.key(seed))
    net = ss.nets.MLP(
        (2,), width=width, depth=3, output_norm=variant.output_norm, key=key_net
    )
    model = ss.ScoreModel(net, SDE, parameterization="v", data_std=variant.data_std)
    result = ss.train(
        model,
        MIX,
        key=key_train,
        steps=steps,
        batch_size=512,
        learning_rate=2e-3,
        weighting="score",
        progress=False,
    )
    return result.ema_model


def count(ys) -> tuple[int, float]:
    ys = np.asarray(ys)
    outliers = int(round(ss.metrics.outlier_fraction(MIX, ys) * len(ys)))
    return outliers, float(ss.metrics.mode_weight_error(MIX, ys))


class TimeSplit(eqx.Module):
    """The network's score for t > tau, the exact score of p_t below."""

    network: ss.ScoreModel
    exact: ss.ExactScore
    tau: float

    def __call__(self, t, y):
        return jnp.where(t > self.tau, self.network(t, y), self.exact(t, y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--num-samples", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--origin", action="store_true", help="the time split too")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    n = args.num_samples or (2_000 if args.quick else 200_000)
    seeds = args.seeds or ([0] if args.quick else [0, 1])
    steps, width = (100, 16) if args.quick else (3000, 128)
    out = RESULTS / (
        args.out or ("outliers_quick.json" if args.quick else "outliers.json")
    )
    meta = {
        "command": " ".join(["python", "benchmarks/outliers.py", *sys.argv[1:]]),
        "num_samples": n,
        "training": f"{steps} steps, batch 512, MLP width {width} depth 3",
        "machine": {"platform": platform.platform(), "devices": str(jax.devices())},
    }
    rows, origin = [], []
    exact = ss.exact_score(MIX, SDE)
    sample_key = jax.random.key(1234)
    t0 = time.perf_counter()
    for variant in VARIANTS:
        for seed in seeds:
            model = train(variant, seed, steps, width)
            for label, sampler in SAMPLERS.items():
                ys = ss.sample(
                    sample_key, SDE, model, num_samples=n, shape=(2,),
                    sampler=sampler, chunk_size=min(n, 50_000),
                )  # fmt: skip
                outliers, werr = count(ys)
                rows.append(
                    dict(variant=variant.name, seed=seed, sampler=label,
                         outliers=outliers, n=n, weight_error=werr)
                )  # fmt: skip
                print(
                    f"{variant.name:52s} seed {seed}  {label:28s} outliers "
                    f"{outliers:4d}/{n}  weight error {werr:.4f}  "
                    f"[{time.perf_counter() - t0:.0f} s]",
                    flush=True,
                )
            if args.origin and variant is VARIANTS[0]:
                sampler = SAMPLERS["DPM-Solver++(2M), 20 steps"]
                for tau in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
                    ys = ss.sample(
                        sample_key, SDE, TimeSplit(model, exact, tau),
                        num_samples=n, shape=(2,), sampler=sampler,
                        chunk_size=min(n, 50_000),
                    )  # fmt: skip
                    outliers, _ = count(ys)
                    origin.append(dict(seed=seed, tau=tau, outliers=outliers, n=n))
                    print(f"  network for t > {tau}: outliers {outliers}/{n}")
            out.write_text(
                json.dumps({"meta": meta, "rows": rows, "origin": origin}, indent=1)
            )
    print(f"wrote {out.relative_to(HERE.parent)} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
