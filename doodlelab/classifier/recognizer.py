"""A trained classifier ready to name doodles: strokes, bitmaps or images -> calibrated probabilities.

Inference runs through ONNX Runtime when the weights have a matching export beside them (several times
faster than eager PyTorch on a small CPU): the 8-bit `.int8.onnx` first (about 3x faster again, same
accuracy on the test split: its card holds the comparison), then the float `.onnx`; else PyTorch (the
`[train]` extra: the shipped weights need none).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.classifier.metrics import softmax
from doodlelab.data import strokes as pipeline

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SHIPPED = WEIGHTS_DIR / "classifier.safetensors"
BACKENDS = ("auto", "int8", "onnx", "torch")
BATCH = 256


class Recognizer:
    """Wraps the network, its class names and its calibration temperature."""

    def __init__(self, weights: str | Path | None = None, backend: str = "auto", threads: int = 0) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}")
        self.weights = Path(weights) if weights is not None else SHIPPED
        self.card = modelfile.load_card(self.weights)
        self.classes: list[str] = list(self.card["classes"])
        self.temperature = float(self.card.get("temperature", 1.0))
        self.size = int(self.card["config"].get("size", 28))
        self._session = self._model = None
        from doodlelab.classifier.export import exports_of

        for engine, path in exports_of(self.weights).items():
            if backend == engine or (backend == "auto" and self._onnx_matches(path)):
                self._session = _onnx_session(path, threads)
                self.backend = engine
                break
        else:
            self._model = _torch_model(self.weights)
            self.backend = "torch"

    def _onnx_matches(self, onnx_path: Path) -> bool:
        """An ONNX file beside the weights, exported from them (both hashes in its card), ORT installed."""
        from doodlelab.onnx_export import export_matches

        return export_matches(onnx_path, self.weights)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 bitmaps (0 background, 255 ink) -> (N, C) float32 logits."""
        images = np.asarray(images)
        if images.ndim != 3 or images.shape[1:] != (self.size, self.size):
            raise ValueError(f"expected (N, {self.size}, {self.size}) images, got {images.shape}")
        out = np.zeros((len(images), len(self.classes)), np.float32)
        for start in range(0, len(images), BATCH):
            x = (images[start : start + BATCH].astype(np.float32) / 255.0)[:, None]
            out[start : start + len(x)] = self._run(x)
        return out

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(["logits"], {"images": x})[0]
        import torch

        with torch.inference_mode():
            return self._model(torch.from_numpy(x)).numpy()

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 -> (N, C) calibrated probabilities (softmax of logits / temperature)."""
        return softmax(self.logits(images), self.temperature)

    def rasterize(self, drawing: Sequence[np.ndarray], raw: bool | None = None) -> np.ndarray:
        """Strokes (raw canvas or simplified) -> (S, S) uint8, through the one pipeline."""
        return pipeline.rasterize(drawing, self.size, raw=raw)

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """(C,) probabilities -> the k best (category, probability), best first."""
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.classes[i], float(probs[i])) for i in order]

    def classify(self, drawings: Sequence[Sequence[np.ndarray]], k: int = 5) -> list[list[tuple[str, float]]]:
        """Many drawings (strokes) -> their top-k guesses."""
        if not drawings:
            return []
        probs = self.probabilities(np.stack([self.rasterize(d) for d in drawings]))
        return [self.top(p, k) for p in probs]


def _torch_model(weights: Path):
    """The network in PyTorch, for weights without a matching ONNX export beside them (or when asked)."""
    try:
        import torch  # noqa: F401 (the [train] extra)
    except ImportError:
        raise modelfile.ModelFileError(
            f"{weights}: no ONNX export of these weights beside them, and PyTorch is not installed to run "
            "them (export them with doodlelab export onnx, or pip install 'doodlelab[train]')"
        ) from None
    from doodlelab.classifier.checkpoint import load_model

    return load_model(weights)[0]


def _onnx_session(path: Path, threads: int = 0):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for corrupt models
        raise modelfile.ModelFileError(f"{path}: cannot load ONNX model ({exc})") from None
