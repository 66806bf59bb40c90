"""Datasets: the Gaussian-mixture oracle, 2-D toys, digits and your own arrays
and images."""

from ._array import (
    ArrayDataset as ArrayDataset,
    LabelledArrayDataset as LabelledArrayDataset,
)
from ._base import (
    AbstractDataset as AbstractDataset,
    AbstractLabelledDataset as AbstractLabelledDataset,
)
from ._digits import Digits as Digits
from ._image_folder import (
    AbstractImageDataset as AbstractImageDataset,
    ImageArray as ImageArray,
    ImageFolder as ImageFolder,
    load_images as load_images,
)
from ._mixture import GaussianMixture as GaussianMixture
from ._registry import NAMES as NAMES, SPLITS as SPLITS, get as get
from ._toy import (
    Checkerboard as Checkerboard,
    SwissRoll as SwissRoll,
    TwoMoons as TwoMoons,
)
