"""Sample-quality metrics: mode weights, Wasserstein-1 (1-D), sliced Wasserstein and
outliers."""

from ._distances import (
    mode_weight_error as mode_weight_error,
    mode_weights as mode_weights,
    sliced_wasserstein as sliced_wasserstein,
    wasserstein_1d as wasserstein_1d,
)
from ._outliers import outlier_fraction as outlier_fraction
