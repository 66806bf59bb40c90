"""Datasets: the Gaussian-mixture oracle, 2-D toys, digits and your own arrays."""

from ._array import (
    ArrayDataset as ArrayDataset,
    LabelledArrayDataset as LabelledArrayDataset,
)
from ._base import (
    AbstractDataset as AbstractDataset,
    AbstractLabelledDataset as AbstractLabelledDataset,
)
from ._digits import Digits as Digits
from ._mixture import GaussianMixture as GaussianMixture
from ._registry import NAMES as NAMES, get as get
from ._toy import (
    Checkerboard as Checkerboard,
    SwissRoll as SwissRoll,
    TwoMoons as TwoMoons,
)
