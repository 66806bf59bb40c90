"""Figures made by the library (matplotlib, no pyplot state: each function returns
a `matplotlib.figure.Figure` and can save it)."""

from ._images import (
    plot_image_grid as plot_image_grid,
    plot_image_strip as plot_image_strip,
)
from ._run import plot_loss as plot_loss, plot_samples as plot_samples
from ._sampling import (
    plot_sampler_histograms as plot_sampler_histograms,
    plot_sde_paths as plot_sde_paths,
    sampling_paths as sampling_paths,
)
from ._sde import (
    forward_samples as forward_samples,
    plot_forward_process as plot_forward_process,
    plot_marginal_histograms as plot_marginal_histograms,
    plot_schedules as plot_schedules,
)
