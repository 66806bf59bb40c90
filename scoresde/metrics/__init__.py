"""Sample-quality metrics: mode weights, Wasserstein distances, outliers, the
digits quality score and bits-per-dimension baselines."""

from ._baselines import (
    gaussian_bits_per_dim as gaussian_bits_per_dim,
    uniform_bits_per_dim as uniform_bits_per_dim,
)
from ._distances import (
    mode_weight_error as mode_weight_error,
    mode_weights as mode_weights,
    sliced_wasserstein as sliced_wasserstein,
    wasserstein_1d as wasserstein_1d,
)
from ._outliers import outlier_fraction as outlier_fraction
from ._quality import (
    DigitsClassifier as DigitsClassifier,
    DigitsQuality as DigitsQuality,
    digits_classifier as digits_classifier,
    digits_quality as digits_quality,
    frechet_distance as frechet_distance,
)
