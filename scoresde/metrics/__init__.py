"""Sample-quality metrics: mode weights, Wasserstein-1 (1-D) and sliced Wasserstein."""

from ._distances import (
    mode_weight_error as mode_weight_error,
    mode_weights as mode_weights,
    sliced_wasserstein as sliced_wasserstein,
    wasserstein_1d as wasserstein_1d,
)
