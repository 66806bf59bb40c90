r"""A sample-quality score for 8x8 digits that needs no download: a small
classifier trained on the digits train split stands in for Inception."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_in_interval


#: Hidden units of the classifier (the Fréchet distance's feature dimension).
FEATURE_DIM = 64
#: Full-batch Adam steps that train the classifier.
CLASSIFIER_STEPS = 400
#: A sample counts as "confident" when its top class probability exceeds this.
CONFIDENCE_THRESHOLD = 0.9


class DigitsClassifier(eqx.Module):
    r"""A one-hidden-layer classifier of 8x8 digits in $[-1, 1]$:
    $\text{logits}(y) = W_2\,\phi(y) + b_2$ with features
    $\phi(y) = \tanh(W_1 \mathrm{vec}(y) + b_1) \in \mathbb{R}^{64}$. The
    features are what [`scoresde.metrics.digits_quality`][] compares in its
    Fréchet distance. Get the trained one from
    [`scoresde.metrics.digits_classifier`][].

    Called on ONE image `(1, 8, 8)` (or `(64,)`) it returns the 10 logits;
    `features(y)` returns $\phi(y)$. Inputs are clipped to $[-1, 1]$ first, the
    range of the data, so that samples slightly outside it are read as the
    nearest valid image.
    """

    hidden: eqx.nn.Linear
    output: eqx.nn.Linear

    def __init__(self, *, key: Array):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(64, FEATURE_DIM, key=k1)
        self.output = eqx.nn.Linear(FEATURE_DIM, 10, key=k2)

    def features(self, y: Float[ArrayLike, "..."]) -> Float[Array, " 64"]:
        r"""The penultimate features $\phi(y)$ of one image."""
        x = jnp.clip(jnp.reshape(jnp.asarray(y), (64,)), -1.0, 1.0)
        return jnp.tanh(self.hidden(x))

    def __call__(self, y: Float[ArrayLike, "..."]) -> Float[Array, " 10"]:
        return self.output(self.features(y))


@functools.lru_cache(maxsize=1)
def digits_classifier() -> DigitsClassifier:
    r"""The classifier behind [`scoresde.metrics.digits_quality`][], trained
    deterministically on the digits train split
    (`ss.datasets.get("digits", split="train")`): initialised from
    `jax.random.key(0)`, then 400 full-batch Adam steps (learning rate
    $10^{-2}$) on the cross-entropy plus $10^{-3}\lVert W\rVert^2$ (the weight penalty
    keeps its confidence honest off the data). It takes about a second
    and is cached in memory for the session. Its accuracy on the test split is
    about 97%.
    """
    from ..datasets import Digits

    train = Digits("train")
    x = jnp.reshape(train.images, (-1, 64)).astype(jnp.float32)
    targets = jax.nn.one_hot(train.labels, 10)
    model = DigitsClassifier(key=jax.random.key(0))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimizer = optax.adam(1e-2)

    def loss_fn(p):
        m = eqx.combine(p, static)
        logits = jax.vmap(m)(x)
        ce = jnp.mean(optax.softmax_cross_entropy(logits, targets))
        l2 = jnp.sum(m.hidden.weight**2) + jnp.sum(m.output.weight**2)
        return ce + 1e-3 * l2

    @jax.jit
    def fit(p):
        def step(carry, _):
            p, state = carry
            grads = jax.grad(loss_fn)(p)
            updates, state = optimizer.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), None

        (p, _), _ = jax.lax.scan(
            step, (p, optimizer.init(p)), None, length=CLASSIFIER_STEPS
        )
        return p

    # Optax's bias correction mixes float and int32 (count) scalars: allow it even
    # where the user (or the test suite) turned on strict dtype promotion.
    with jax.numpy_dtype_promotion("standard"):
        return eqx.combine(fit(params), static)


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    r"""The Fréchet distance between Gaussians fitted to two sets of features
    (Heusel et al. 2017, the "FID" formula),

    $$d^2 = \lVert\mu_a - \mu_b\rVert^2 + \mathrm{Tr}\big(\Sigma_a + \Sigma_b -
    2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\big),$$

    with sample means and (unbiased) covariances, computed in float64 through
    symmetric eigendecompositions. Returns $d^2$ (as FID does). Like FID it is
    biased upwards for small samples: compare numbers computed with the same
    sample sizes.
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            "`features_a` and `features_b` must have shapes (n, k) and (m, k), got "
            f"{a.shape} and {b.shape}."
        )
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(
            f"Each set needs at least 2 samples, got {a.shape[0]} and {b.shape[0]}."
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sum(np.sqrt(np.clip(middle, 0, None)))
    d2 = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
    return float(max(d2 - 2.0 * trace_root, 0.0))


class DigitsQuality(eqx.Module):
    r"""What [`scoresde.metrics.digits_quality`][] returns.

    **Fields:**

    - `confident_share`: the share of samples whose top class probability
      exceeds 0.9 (higher is better; real test digits: about 0.9).
    - `class_kl`: $\mathrm{KL}(\hat h \,\|\, u)$ in nats between the histogram
      $\hat h$ of predicted classes and the uniform distribution $u$ on 10
      classes, $\sum_c \hat h_c \log(10\,\hat h_c)$: 0 when every class is
      equally frequent, $\log 10 = 2.30$ when all samples are one class (lower
      is better).
    - `frechet_distance`: [`scoresde.metrics.frechet_distance`][] between the
      classifier features of the samples and of the reference images (lower is
      better).
    - `class_histogram`: $\hat h$, shape `(10,)`.
    - `num_samples`: the number of samples scored.
    """

    confident_share: float
    class_kl: float
    frechet_distance: float
    class_histogram: np.ndarray
    num_samples: int

    def as_dict(self) -> dict[str, float]:
        """The three scores and `num_samples` as a JSON-ready dict."""
        return {
            "confident_share": self.confident_share,
            "class_kl": self.class_kl,
            "frechet_distance": self.frechet_distance,
            "num_samples": self.num_samples,
        }


def _as_digit_images(name: str, images: ArrayLike) -> Array:
    arr = jnp.asarray(images)
    if arr.ndim == 4 and arr.shape[1:] == (1, 8, 8):
        arr = arr.reshape(arr.shape[0], 64)
    elif arr.ndim == 3 and arr.shape[1:] == (8, 8):
        arr = arr.reshape(arr.shape[0], 64)
    elif not (arr.ndim == 2 and arr.shape[1] == 64):
        raise ValueError(
            f"`{name}` must be digits of shape (n, 1, 8, 8), (n, 8, 8) or (n, 64) "
            f"in [-1, 1], got shape {arr.shape}."
        )
    if arr.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 images, got {arr.shape[0]}.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` must be floats in [-1, 1] (data, not raw pixels 0..16), "
            f"got dtype {arr.dtype}."
        )
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"`{name}` must be finite; it contains NaN or inf.")
    return arr.astype(jnp.float32)


@eqx.filter_jit
def _probs_and_features(classifier, x):
    return jax.vmap(lambda y: jax.nn.softmax(classifier(y)))(x), jax.vmap(
        classifier.features
    )(x)


def digits_quality(
    images: ArrayLike,
    *,
    reference: ArrayLike | None = None,
    threshold: float = CONFIDENCE_THRESHOLD,
) -> DigitsQuality:
    r"""A sample-quality score for 8x8 digits that needs no download, in the
    spirit of the Inception score and FID (Salimans et al. 2016; Heusel et al.
    2017) with a small classifier ([`scoresde.metrics.digits_classifier`][],
    trained on the train split) in place of Inception. With $p(c \mid y)$ the
    classifier's class probabilities and $\phi(y)$ its penultimate features:

    - **confident share** (quality): $\frac1n \sum_i
      \mathbb{1}[\max_c p(c\mid y_i) > 0.9]$ — a sample that looks like some
      digit is classified with confidence;
    - **class KL** (diversity): $\mathrm{KL}(\hat h\,\|\,u) = \sum_c \hat h_c
      \log(10\,\hat h_c)$, where $\hat h_c$ is the share of samples whose most
      likely class is $c$ — 0 for balanced classes, $\log 10$ for one class;
    - **Fréchet distance** (both): between Gaussians fitted to
      $\{\phi(y_i)\}$ and to the reference's features
      ([`scoresde.metrics.frechet_distance`][]).

    **The ceiling.** Real digits that the classifier never saw — the test split
    — score about 0.9 confident, a class KL of about 0.001, and a Fréchet
    distance to the test split of about 1.2 when the 1,442 train-split images
    stand in for the samples. Models are compared against these numbers; pure
    noise scores near 0 confident and a Fréchet distance above 30 (see the
    Images tutorial). The Fréchet distance is biased upwards for small samples:
    score a few hundred samples or more, and the same number for every model.

    **Arguments:**

    - `images`: samples of shape `(n, 1, 8, 8)` (or `(n, 8, 8)`, `(n, 64)`) on
      the data scale $[-1, 1]$ ($n \ge 2$); values outside are clipped.
    - `reference`: the real images the Fréchet distance compares with (default:
      the digits test split, `ss.datasets.get("digits", split="test").images`).
    - `threshold`: the confidence threshold (default 0.9).

    **Returns:** a [`scoresde.metrics.DigitsQuality`][].

    !!! example

        ```python
        import scoresde as ss

        test = ss.datasets.get("digits", split="test")
        train = ss.datasets.get("digits", split="train")
        ceiling = ss.metrics.digits_quality(train.images)
        print(ceiling.confident_share, ceiling.class_kl, ceiling.frechet_distance)
        ```
    """
    x = _as_digit_images("images", images)
    check_in_interval("threshold", threshold, 0.0, 1.0, low_open=True, high_open=True)
    if reference is None:
        from ..datasets import Digits

        ref = jnp.reshape(Digits("test").images, (-1, 64))
    else:
        ref = _as_digit_images("reference", reference)
    classifier = digits_classifier()
    probs, feats = _probs_and_features(classifier, x)
    _, ref_feats = _probs_and_features(classifier, ref)
    probs = np.asarray(probs, np.float64)
    hist = np.bincount(np.argmax(probs, axis=1), minlength=10) / probs.shape[0]
    nonzero = hist > 0
    kl = float(np.sum(hist[nonzero] * np.log(10.0 * hist[nonzero])))
    return DigitsQuality(
        confident_share=float(np.mean(probs.max(axis=1) > threshold)),
        class_kl=max(kl, 0.0),
        frechet_distance=frechet_distance(feats, ref_feats),
        class_histogram=hist,
        num_samples=int(x.shape[0]),
    )


#: $\log 10$, the class KL of samples that are all one class.
MAX_CLASS_KL = math.log(10.0)
