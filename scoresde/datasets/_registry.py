"""Named datasets: `scoresde.datasets.get(name)`."""

from collections.abc import Callable

import numpy as np

from ._base import AbstractDataset
from ._digits import DIGITS_SPLITS, Digits
from ._mixture import GaussianMixture
from ._toy import Checkerboard, SwissRoll, TwoMoons


def mixture_1d() -> GaussianMixture:
    """The seed blog's 1-D mixture: weights (0.3, 0.1, 0.6), means (-5, 0, 6),
    stds (1, 0.5, 2)."""
    return GaussianMixture(
        weights=[0.3, 0.1, 0.6], means=[[-5.0], [0.0], [6.0]], stds=[1.0, 0.5, 2.0]
    )


def nine_gaussians() -> GaussianMixture:
    """The seed case study's nine Gaussians: means on the grid {-2, 0, 2}^2 (x
    outer, y inner, row-major), std 0.25 per coordinate, weights proportional to
    1, 2, ..., 9 in that order."""
    grid = np.array([-2.0, 0.0, 2.0])
    means = np.array([[x, y] for x in grid for y in grid])
    weights = np.arange(1, 10, dtype=np.float64)
    return GaussianMixture(weights / weights.sum(), means, np.full(9, 0.25))


_REGISTRY: dict[str, Callable[..., AbstractDataset]] = {
    "mixture-1d": mixture_1d,
    "nine-gaussians": nine_gaussians,
    "two-moons": TwoMoons,
    "swiss-roll": SwissRoll,
    "checkerboard": Checkerboard,
    "digits": Digits,
}

NAMES: tuple[str, ...] = tuple(_REGISTRY)


#: The datasets that have splits, and their split names.
SPLITS: dict[str, tuple[str, ...]] = {"digits": DIGITS_SPLITS}


def get(name: str, split: str | None = None) -> AbstractDataset:
    """A named dataset. Each has `.shape` and `.sample(key, n)`.

    | name | shape | what |
    |---|---|---|
    | `"mixture-1d"` | `(1,)` | [`GaussianMixture`][scoresde.datasets.GaussianMixture]: weights (0.3, 0.1, 0.6), means (-5, 0, 6), stds (1, 0.5, 2) |
    | `"nine-gaussians"` | `(2,)` | `GaussianMixture`: means {-2, 0, 2}^2, std 0.25, weights ∝ 1..9 |
    | `"two-moons"` | `(2,)` | [`TwoMoons`][scoresde.datasets.TwoMoons] |
    | `"swiss-roll"` | `(2,)` | [`SwissRoll`][scoresde.datasets.SwissRoll] |
    | `"checkerboard"` | `(2,)` | [`Checkerboard`][scoresde.datasets.Checkerboard] |
    | `"digits"` | `(1, 8, 8)` | [`Digits`][scoresde.datasets.Digits]: scikit-learn's 8x8 digits in [-1, 1], with labels; splits `"train"`, `"test"`, `"all"` |

    The two mixtures are exact oracles: `log_prob`, `score` and, with
    [`scoresde.exact_score`][], the exact score of $p_t$ under any SDE.

    **Splits.** `split` picks a fixed part of a dataset that has splits: for
    `"digits"`, `"train"` (1,442 images) or `"test"` (355), disjoint and
    stratified by class (see [`scoresde.datasets.Digits`][]); `None` or `"all"`
    is the whole dataset, as before. The other datasets are distributions one
    samples afresh, so they have no splits.

    **Raises:** `ValueError` for an unknown name (listing the known ones), an
    unknown split, or a `split` for a dataset without splits.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown dataset {name!r}; known datasets are: {', '.join(NAMES)}."
        )
    if split is None:
        return _REGISTRY[name]()
    if name not in SPLITS:
        with_splits = ", ".join(repr(n) for n in SPLITS)
        raise ValueError(
            f"Dataset {name!r} has no splits (it is sampled afresh), got "
            f"split={split!r}; datasets with splits: {with_splits}."
        )
    if split not in SPLITS[name]:
        raise ValueError(
            f"Unknown split {split!r} of dataset {name!r}; its splits are: "
            f"{', '.join(map(repr, SPLITS[name]))}."
        )
    return _REGISTRY[name](split=split)
