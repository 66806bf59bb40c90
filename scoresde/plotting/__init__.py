"""Figures made by the library (matplotlib, no pyplot state: each function returns
a `matplotlib.figure.Figure` and can save it)."""

from ._sde import (
    forward_samples as forward_samples,
    plot_forward_process as plot_forward_process,
    plot_schedules as plot_schedules,
)
