"""Your own images: a folder of PNG/JPEG files, or an array of 8-bit images."""

import os
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import KeyArray, default_float
from .._validation import check_int
from ._base import AbstractDataset


#: File name endings (case-insensitive) that `ImageFolder` reads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MODES = (None, "L", "RGB")


class AbstractImageDataset(AbstractDataset):
    r"""Images with integer intensities $k \in \{0, \dots, K-1\}$ ($K$ =
    `num_levels`, 256 for 8-bit images), stored scaled to $[-1, 1]$ by
    $y = 2k/(K-1) - 1$, shape `(n, C, H, W)`. `sample(key, n)` draws images
    uniformly with replacement; `pixels` gives back the integers, the input of
    [`scoresde.bits_per_dim`][] with `num_levels=ds.num_levels`."""

    images: eqx.AbstractVar[Float[Array, "n C H W"]]
    num_levels: eqx.AbstractVar[int]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def pixels(self) -> Float[Array, "n C H W"]:
        """The integer intensities $0..K-1$ of `images` (as floats)."""
        k = self.num_levels - 1
        return jnp.clip(jnp.round((self.images + 1.0) * (k / 2.0)), 0, k)

    def sample(self, key: KeyArray, n: int) -> Float[Array, "n C H W"]:
        """Draw `n` images uniformly with replacement, shape `(n, C, H, W)`."""
        n = check_int("n", n, minimum=1)
        idx = jax.random.randint(key, (n,), 0, self.images.shape[0])
        return self.images[idx]


def _scale(pixels: np.ndarray, num_levels: int) -> Array:
    data = 2.0 * pixels.astype(np.float64) / (num_levels - 1) - 1.0
    return jnp.asarray(data, default_float())


def _check_uint8_images(arr: np.ndarray, name: str) -> np.ndarray:
    """(n, H, W) or (n, H, W, C) uint8 -> (n, C, H, W) uint8."""
    if arr.dtype != np.uint8:
        raise TypeError(
            f"{name} must hold 8-bit images (dtype uint8), got dtype {arr.dtype}; "
            "pass other data as a float array of shape (n, *sample_shape)."
        )
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[3] in (1, 3):
        arr = np.transpose(arr, (0, 3, 1, 2))
    else:
        raise ValueError(
            f"{name} must have shape (n, H, W) or (n, H, W, C) with C = 1 or 3 "
            f"(channels last), got {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[2] == 0 or arr.shape[3] == 0:
        raise ValueError(f"{name} holds no images: shape {arr.shape}.")
    return np.ascontiguousarray(arr)


class ImageArray(AbstractImageDataset):
    r"""8-bit images from an array: `pixels` of dtype `uint8` and shape
    `(n, H, W)` (grey-scale) or `(n, H, W, C)` with $C \in \{1, 3\}$ (channels
    last, as image libraries store them), scaled to $[-1, 1]$ by
    $y = 2k/255 - 1$ and stored as `(n, C, H, W)`, with `num_levels = 256`.
    [`scoresde.datasets.load_images`][] reads one from a `.npy`/`.npz` file.

    **Arguments:**

    - `pixels`: the uint8 array.

    **Raises:** `TypeError` for another dtype, `ValueError` for another shape or
    an empty array.
    """

    images: Float[Array, "n C H W"]
    num_levels: int = eqx.field(static=True)

    def __init__(self, pixels: ArrayLike):
        arr = _check_uint8_images(np.asarray(pixels), "`pixels`")
        self.images = _scale(arr, 256)
        self.num_levels = 256


class ImageFolder(AbstractImageDataset):
    r"""The PNG and JPEG files directly inside a folder (read with Pillow, in
    sorted file-name order), all of one size, as a dataset of images of shape
    `(C, H, W)` scaled to $[-1, 1]$ by $y = 2k/255 - 1$ for 8-bit intensities
    $k$, with `num_levels = 256` recorded for [`scoresde.bits_per_dim`][].

    Files ending in `.png`, `.jpg` or `.jpeg` (any case) are read; files whose
    name starts with a dot (`.DS_Store`) are skipped. Grey-scale files give
    $C = 1$, colour files $C = 3$ (an alpha channel is dropped, a palette
    expanded). The folder must be uniform: pass `mode="L"` or `mode="RGB"` to
    convert every file to grey-scale or colour instead.

    **Arguments:**

    - `path`: the folder.
    - `mode`: `None` (default: each file's own, which must agree), `"L"`
      (grey-scale) or `"RGB"`.

    **Attributes:** `images` `(n, C, H, W)`, `num_levels` = 256, `files` (the
    file names read, in order).

    **Raises:** a one-line `ValueError` naming the file for a folder that holds
    no image, a file of another size (or mode) than the first, an image that
    cannot be decoded, a file that is not a PNG/JPEG image (or a subfolder), or
    an image of more than 8 bits; `FileNotFoundError`/`NotADirectoryError` for
    a bad `path`.

    !!! example

        ```python
        import jax
        import scoresde as ss

        ds = ss.datasets.ImageFolder("my_images/")     # e.g. 500 RGB 32x32 PNGs
        ds.shape                                        # (3, 32, 32)
        batch = ds.sample(jax.random.key(0), 64)        # (64, 3, 32, 32) in [-1, 1]
        ```
    """

    images: Float[Array, "n C H W"]
    num_levels: int = eqx.field(static=True)
    files: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, path: str | os.PathLike, *, mode: str | None = None):
        if mode not in _MODES:
            raise ValueError(f"`mode` must be None, 'L' or 'RGB', got {mode!r}.")
        pixels, files = _read_folder(pathlib.Path(path), mode)
        self.images = _scale(pixels, 256)
        self.num_levels = 256
        self.files = files


def _read_folder(folder: pathlib.Path, mode: str | None):
    from PIL import Image, UnidentifiedImageError

    if not folder.exists():
        raise FileNotFoundError(f"Image folder {str(folder)!r} does not exist.")
    if not folder.is_dir():
        raise NotADirectoryError(f"{str(folder)!r} is not a folder of images.")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise ValueError(f"Image folder {str(folder)!r} is empty.")
    arrays, files = [], []
    first = None
    for p in entries:
        if p.is_dir():
            raise ValueError(
                f"{str(p)!r} is a subfolder; ImageFolder reads only the PNG/JPEG "
                "files directly inside the folder."
            )
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(
                f"{str(p)!r} is not a PNG/JPEG image (allowed endings: "
                f"{', '.join(IMAGE_SUFFIXES)}); remove it from the folder."
            )
        try:
            with Image.open(p) as im:
                im.load()
                arr = _to_array(im, mode, p)
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"Cannot read image {str(p)!r}: {reason}.") from None
        if first is None:
            first = (arr.shape, p)
        elif arr.shape != first[0]:
            raise ValueError(
                f"{str(p)!r} has size {_describe_shape(arr.shape)}, but "
                f"{str(first[1])!r} has {_describe_shape(first[0])}; all images "
                "must have one size"
                + (
                    " and mode (pass mode='RGB' or mode='L' to convert)."
                    if arr.shape[0] != first[0][0]
                    else "."
                )
            )
        arrays.append(arr)
        files.append(p.name)
    return np.stack(arrays), tuple(files)


def _describe_shape(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    kind = "grey-scale" if c == 1 else "RGB"
    return f"{w}x{h} {kind}"


def _to_array(im, mode: str | None, path: pathlib.Path) -> np.ndarray:
    """A PIL image -> (C, H, W) uint8."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        raise ValueError(
            f"{str(path)!r} has {im.mode} pixels (more than 8 bits); ImageFolder "
            "reads 8-bit images: convert it, or pass its pixels as an array."
        )
    if mode is None:
        mode = "L" if im.mode in ("1", "L", "LA") else "RGB"
    arr = np.asarray(im.convert(mode), dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else np.transpose(arr, (2, 0, 1))


def load_images(
    path: str | os.PathLike, *, key: str | None = None
) -> AbstractImageDataset:
    """Images from disk: a folder of PNG/JPEG files
    ([`scoresde.datasets.ImageFolder`][]) or a `.npy`/`.npz` file holding a uint8
    array of shape `(n, H, W)` or `(n, H, W, C)`
    ([`scoresde.datasets.ImageArray`][]). What `scoresde train --data` reads.

    **Arguments:**

    - `path`: the folder or file.
    - `key`: the array's name inside an `.npz` holding several arrays.

    **Raises:** a one-line error naming the file for anything it cannot read.
    """
    p = pathlib.Path(path)
    if p.is_dir():
        return ImageFolder(p)
    if not p.exists():
        raise FileNotFoundError(f"{str(p)!r} does not exist.")
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ValueError(
            f"{str(p)!r} is neither a folder of images nor a .npy/.npz array."
        )
    try:
        loaded = np.load(p, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"Cannot read {str(p)!r}: {e}".rstrip(".") + ".") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if key is None and len(names) != 1:
                raise ValueError(
                    f"{str(p)!r} holds the arrays {names}; choose one with `key`."
                )
            name = names[0] if key is None else key
            if name not in names:
                raise ValueError(f"{str(p)!r} has no array {name!r}; it holds {names}.")
            arr = loaded[name]
    else:
        arr = loaded
    try:
        return ImageArray(arr)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{str(p)!r}: {e}") from None
