"""The generators' networks as ONNX files, run by ONNX Runtime on NumPy arrays (no PyTorch): the diffusion
U-Net (about twice as fast as PyTorch on a small CPU) and the GAN's generator. Each export sits beside its
weights (`diffusion.onnx` by `diffusion.safetensors`) with a card holding both files' hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.onnx_export import export_matches, save_onnx_card, sha256

MAX_BATCH = 2 * 1024  # both guidance branches of the largest request (generator.MAX_N)
SERVING_THREADS = 1  # intra-op threads of a server's session (see `OnnxNet.for_serving`)
ONNX_WEIGHTS = "float16 where exact, else float32"


def export_unet(weights: str | Path, unet, path: str | Path | None = None) -> Path:
    """Write the U-Net `unet` (a torch module loaded from `weights`) as ONNX to `path` (default: `weights`
    with suffix .onnx, where the generator looks for it), and its card; the path. Weights float16 holds
    exactly (all of them for a float16 file like the shipped one) are stored as float16, the rest float32:
    rounding the exporter's folded constants (the timestep frequencies among them) would move the samples."""
    import torch

    example = (torch.zeros(2, 1, 28, 28), torch.tensor([1, 500]), torch.tensor([0, unet.num_classes]))
    inputs = {
        "x": "(B, 1, 28, 28) float32 noisy images",
        "t": "(B,) int64 timesteps 0..T",
        "y": f"(B,) int64 labels, {unet.num_classes} = no label",
    }
    return _export(
        "diffusion", weights, unet, path, example, inputs, {"eps": "(B, 1, 28, 28) float32 predicted noise"}
    )


def export_gan(weights: str | Path, generator, path: str | Path | None = None) -> Path:
    """Write the GAN's generator G(z, y) (a torch module loaded from `weights`) as ONNX, like `export_unet`.
    Batch norm runs on its stored statistics (eval mode), so G is one fixed function of (z, y)."""
    import torch

    example = (torch.zeros(2, generator.z_dim), torch.tensor([0, 1]))
    inputs = {"z": f"(B, {generator.z_dim}) float32 noise", "y": "(B,) int64 labels"}
    return _export(
        "gan",
        weights,
        generator,
        path,
        example,
        inputs,
        {"images": "(B, 1, 28, 28) float32 in [-1, 1], -1 background"},
    )


def _export(kind: str, weights, net, path, example: tuple, inputs: dict, outputs: dict) -> Path:
    """Export `net` with a dynamic batch size and write the card that ties the export to `weights`."""
    import torch

    from doodlelab.onnx_export import write_onnx

    weights = Path(weights)
    path = weights.with_suffix(".onnx") if path is None else Path(path)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    data = write_onnx(
        net,
        example,
        path,
        list(inputs),
        list(outputs),
        {name: {0: batch} for name in inputs},
        float16=True,
        exact_only=True,
    )
    card = modelfile.load_card(weights)
    save_onnx_card(
        path,
        {
            "format": f"doodlelab-{kind}-onnx/1",
            "weights": weights.name,
            "weights_sha256": sha256(weights),
            "onnx_sha256": hashlib.sha256(data).hexdigest(),
            "onnx_weights": ONNX_WEIGHTS,
            "inputs": inputs,
            "output": outputs,
            "classes": card.get("classes"),
            "config": card.get("config"),
            "attribution": card.get("attribution"),
            "provenance": f"{weights.name} (trained on the {card.get('attribution')}), exported by "
            f"`doodlelab export onnx --weights {weights.name}`",
        },
    )
    return path


def matching_export(weights: str | Path) -> Path | None:
    """The .onnx beside `weights` if it was exported from exactly these weights and ONNX Runtime is
    installed; else None (a stale export is ignored, never used)."""
    path = Path(weights).with_suffix(".onnx")
    return path if export_matches(path, weights) else None


class OnnxNet:
    """An exported network run by ONNX Runtime on the CPU: `net(*arrays)` -> its one output (NumPy).
    `threads`: intra-op threads (0: one per core); `spinning`: whether they busy-wait for work between
    operators (ONNX Runtime's default, the fastest when the model has the machine to itself) or sleep."""

    inputs: dict[str, type] = {}  # name -> dtype of each input, in order

    def __init__(self, path: str | Path, num_classes: int, threads: int = 0, spinning: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.path, self.num_classes, self.threads, self.spinning = Path(path), num_classes, threads, spinning
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt models
            raise modelfile.ModelFileError(f"{path}: cannot load ONNX model ({exc})") from None

    def for_serving(self) -> OnnxNet:
        """The same network in a session for a server, where it shares the CPU with other requests: one
        intra-op thread that sleeps when it has no work, so a core stays free for the cheap models."""
        return type(self)(self.path, self.num_classes, threads=SERVING_THREADS, spinning=False)

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        """The inputs in `inputs`' order (cast to their dtypes) -> the network's output."""
        names = self.inputs.items()
        feed = {name: np.ascontiguousarray(a, dtype=dtype) for (name, dtype), a in zip(names, arrays)}
        return np.ascontiguousarray(self.session.run(None, feed)[0])


class OnnxUNet(OnnxNet):
    """eps_theta(x_t, t, y): (B, 1, 28, 28) float32, (B,) and (B,) int64 -> (B, 1, 28, 28), like `UNet`."""

    inputs = {"x": np.float32, "t": np.int64, "y": np.int64}


class OnnxGAN(OnnxNet):
    """G(z, y): (B, z_dim) float32 noise, (B,) int64 labels -> (B, 1, 28, 28) in [-1, 1], like `Generator`."""

    inputs = {"z": np.float32, "y": np.int64}
