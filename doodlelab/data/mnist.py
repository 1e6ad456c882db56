"""Loader for `mnist.npz` in the keras layout (x_train, y_train, x_test, y_test)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from doodlelab import settings
from doodlelab.errors import DataError

_SHAPES = {"x_train": (28, 28), "x_test": (28, 28), "y_train": (), "y_test": ()}


@dataclass(frozen=True)
class Mnist:
    """The official 60k/10k split: images (N, 28, 28) uint8 (0 background), labels (N,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(path: str | Path | None = None) -> Mnist:
    """Load and validate `mnist.npz` (default: `$DOODLELAB_DATA/mnist/mnist.npz`); never unpickles."""
    path = Path(path) if path is not None else settings.mnist_path()
    if not path.is_file():
        raise DataError("MNIST not found (set DOODLELAB_DATA to the folder holding mnist/mnist.npz)", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _SHAPES if key not in npz.files]
            if missing:
                raise DataError(f"missing array {', '.join(map(repr, missing))}", path)
            arrays = {key: npz[key] for key in _SHAPES}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"not a readable .npz file ({exc})", path) from None
    for key, tail in _SHAPES.items():
        if arrays[key].shape[1:] != tail:
            raise DataError(f"{key} has shape {arrays[key].shape}, expected (N, *{tail})", path)
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"x_{split} and y_{split} differ in length", path)
    return Mnist(
        x_train=arrays["x_train"].astype(np.uint8, copy=False),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"].astype(np.uint8, copy=False),
        y_test=arrays["y_test"].astype(np.int64),
    )
