"""Export a trained classifier to ONNX (input "images": (B, 1, S, S) float32 in [0, 1], 1 = ink; output
"logits": (B, 345)), with a JSON card `NAME.onnx.json` beside it: classes and calibration temperature.
With `float16`, the weights are stored as float16 (half the file; the shipped model uses it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from doodlelab.onnx_export import (  # noqa: F401 (re-exported: older imports keep working)
    export_matches,
    onnx_card_path,
    save_onnx_card,
    sha256,
    write_onnx,
)

if TYPE_CHECKING:
    import torch

MAX_BATCH = 4096


# The exports that can sit beside `NAME.safetensors`, by engine, in the order inference prefers them.
EXPORTS = {"int8": ".int8.onnx", "onnx": ".onnx"}


def exports_of(weights: str | Path) -> dict[str, Path]:
    """engine -> path of that export of `weights` (whether or not it exists), preferred first."""
    return {engine: Path(weights).with_suffix(suffix) for engine, suffix in EXPORTS.items()}


def export_onnx(
    model: torch.nn.Module,
    card: dict,
    path: str | Path,
    size: int = 28,
    float16: bool = False,
    features: bool = True,
) -> Path:
    """Write `model` as ONNX to `path` (atomically) and `card` (plus input/output spec) beside it.

    `features`: a second output "features" (B, D), the pooled penultimate layer that the generators'
    yardstick (generative/evaluate.py) compares, so it runs without PyTorch. "logits" stays the first output.
    """
    import torch

    path = Path(path)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    net, outputs = (_with_features(model), ["logits", "features"]) if features else (model, ["logits"])
    data = write_onnx(
        net, (torch.zeros(2, 1, size, size),), path, ["images"], outputs, {"x": {0: batch}}, float16
    )
    full = {
        **card,
        "format": "doodlelab-classifier-onnx/1",
        "onnx_weights": "float16" if float16 else "float32",
        "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "input": {
            "name": "images",
            "shape": ["batch", 1, size, size],
            "dtype": "float32",
            "range": "0..1, 1 = ink (uint8 bitmap / 255)",
        },
        "output": {
            "name": "logits",
            "shape": ["batch", len(card.get("classes", []))],
            "probabilities": "softmax(logits / temperature)",
        },
    }
    if features:
        full["features"] = {
            "name": "features",
            "shape": ["batch", model.feature_dim],
            "use": "the penultimate layer: the generators' Fréchet distance and variety",
        }
    save_onnx_card(path, full)
    return path


def _with_features(model: torch.nn.Module) -> torch.nn.Module:
    """`model` as a module whose forward returns (logits, features); the same layers, one pass."""
    import torch

    class WithFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            f = self.model.features(x)
            return self.model.head(self.model.dropout(f)), f

    return WithFeatures()
