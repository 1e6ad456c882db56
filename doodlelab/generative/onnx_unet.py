"""The diffusion U-Net through ONNX Runtime: the same noise prediction as the PyTorch network, about twice
as fast on a small CPU, so sampling (50 forward passes of a 2B batch) takes half the time. The export
`diffusion.onnx` sits beside `diffusion.safetensors`, with a card holding both files' hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from doodlelab import modelfile
from doodlelab.onnx_export import export_matches, save_onnx_card, sha256, write_onnx

MAX_BATCH = 2 * 1024  # both guidance branches of the largest request (generator.MAX_N)
SERVING_THREADS = 1  # intra-op threads of a server's session (see `OnnxUNet.for_serving`)


def export(weights: str | Path, unet: nn.Module, path: str | Path | None = None) -> Path:
    """Write `unet` (loaded from `weights`) as ONNX to `path` (default: `weights` with suffix .onnx, where
    the generator looks for it), and its card; the path. Weights that float16 holds exactly (all of them
    for a float16 file like the shipped one) are stored as float16, the rest as float32: rounding the
    exporter's folded constants (the timestep frequencies among them) would move the samples."""
    weights = Path(weights)
    path = weights.with_suffix(".onnx") if path is None else Path(path)
    example = (torch.zeros(2, 1, 28, 28), torch.tensor([1, 500]), torch.tensor([0, unet.num_classes]))
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    data = write_onnx(unet, example, path, ["x", "t", "y"], ["eps"],
                      {"x": {0: batch}, "t": {0: batch}, "y": {0: batch}}, float16=True, exact_only=True)
    save_onnx_card(path, {
        "format": "doodlelab-diffusion-onnx/1",
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "onnx_weights": "float16 where exact, else float32",
        "inputs": {"x": "(B, 1, 28, 28) float32 noisy images", "t": "(B,) int64 timesteps 0..T",
                   "y": f"(B,) int64 labels, {unet.num_classes} = no label"},
        "output": {"eps": "(B, 1, 28, 28) float32 predicted noise"},
        "attribution": modelfile.load_card(weights).get("attribution"),
    })
    return path


def matching_export(weights: str | Path) -> Path | None:
    """The .onnx beside `weights` if it was exported from exactly these weights and ONNX Runtime is
    installed; else None (a stale export is ignored, never used)."""
    path = Path(weights).with_suffix(".onnx")
    return path if export_matches(path, weights) else None


class OnnxUNet(nn.Module):
    """eps_theta(x_t, t, y) run by ONNX Runtime: (B, 1, 28, 28), (B,), (B,) -> (B, 1, 28, 28), like `UNet`.
    It has no parameters (the device is the CPU) and nothing to train. `threads`: intra-op threads (0: one
    per core); `spinning`: whether they busy-wait for work between operators (ONNX Runtime's default, the
    fastest when the model has the machine to itself) rather than sleep."""

    def __init__(self, path: str | Path, num_classes: int, threads: int = 0, spinning: bool = True) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.path, self.threads, self.spinning = Path(path), threads, spinning
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt models
            raise modelfile.ModelFileError(f"{path}: cannot load ONNX model ({exc})") from None
        self.num_classes = num_classes

    def for_serving(self) -> OnnxUNet:
        """The same network in a session for a server, where it shares the CPU with other requests: one
        intra-op thread that sleeps when it has no work, so a core stays free for the cheap models."""
        return OnnxUNet(self.path, self.num_classes, threads=SERVING_THREADS, spinning=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, H, W), t: (B,), y: (B,) -> predicted noise (B, 1, H, W) float32."""
        feed = {"x": x.float().numpy(), "t": t.long().numpy(), "y": y.long().numpy()}
        return torch.from_numpy(np.ascontiguousarray(self.session.run(None, feed)[0]))
