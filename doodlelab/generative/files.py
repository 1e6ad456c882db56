"""Generator files: shipped model files (EMA weights + card) and the sample-grid PNG; training checkpoints
are `doodlelab.checkpoints`. No pickle anywhere; reading needs NumPy only, writing weights needs PyTorch."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from doodlelab import modelfile

if TYPE_CHECKING:
    import torch


def save_model(
    path: Path,
    kind: str,
    model: torch.nn.Module,
    config,
    card: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Weights (as trained, or `dtype`, e.g. torch.float16 to ship) and a card with classes, config,
    provenance and `card`."""
    from doodlelab import checkpoints

    header = {"format": f"doodlelab-{kind}/1", "kind": kind}
    arrays = checkpoints.arrays(model.state_dict(), "", dtype)
    return modelfile.save_model(path, arrays, header, config.to_dict(), "train split", card)


def load_state(path: str | Path) -> tuple[str, dict, dict[str, np.ndarray]]:
    """(kind, config dict, float32 arrays) of a generator model file; refuses anything else."""
    arrays, meta = modelfile.load_float32(path)
    kind = meta.get("kind")
    if kind not in ("diffusion", "gan") or meta.get("format") != f"doodlelab-{kind}/1":
        raise modelfile.ModelFileError(f"{path}: not a doodlelab generator weights file")
    return kind, meta["config"], arrays


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Model space [-1, 1] (B, 1, H, W) -> numpy_bitmap convention (B, H, W) uint8, 0 background, 255 ink."""
    x = np.asarray(x, dtype=np.float32)  # also a CPU torch tensor
    return ((np.clip(x, -1, 1) + 1) * 127.5).round().astype(np.uint8)[:, 0]


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(B, H, W) uint8 -> (B, 1, H, W) float torch tensor in [-1, 1] (background -1, ink +1), for training."""
    import torch

    return torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)


def grid(images: np.ndarray, columns: int, scale: int = 2, pad: int = 2) -> np.ndarray:
    """(N, H, W) uint8 samples -> one (rows·(H·scale+pad)+pad, ...) uint8 image, dark ink on white."""
    n, h, w = images.shape
    rows = -(-n // columns)
    cell_h, cell_w = h * scale + pad, w * scale + pad
    out = np.full((rows * cell_h + pad, columns * cell_w + pad), 255, np.uint8)
    big = np.repeat(np.repeat(255 - images, scale, 1), scale, 2)
    for i, image in enumerate(big):
        r, c = divmod(i, columns)
        out[
            pad + r * cell_h : pad + r * cell_h + h * scale, pad + c * cell_w : pad + c * cell_w + w * scale
        ] = image
    return out


def save_png(array: np.ndarray, path: str | Path) -> None:
    """A grayscale uint8 array as a PNG, written atomically."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    write_png_bytes(buffer.getvalue(), path)


def write_png_bytes(data: bytes, path: str | Path) -> None:
    modelfile.write_atomically(Path(path), lambda f: f.write(data))
