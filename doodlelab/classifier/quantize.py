"""An 8-bit ONNX classifier for serving: static quantization (weights int8 per channel, activations uint8
with ranges calibrated on training drawings) runs about 3x faster on a CPU core than float32. Weights use
7 bits of range: x86 CPUs without VNNI add uint8 x int8 products in saturating int16 pairs."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.classifier.metrics import top_k_accuracy

CALIBRATION_BATCH = 64


def int8_path(weights: str | Path) -> Path:
    """The 8-bit export of `classifier.safetensors` is `classifier.int8.onnx`, beside it."""
    from doodlelab.classifier.export import exports_of

    return exports_of(weights)["int8"]


def calibration_images(n: int = 2048, seed: int = 0, root: Path | None = None) -> np.ndarray:
    """(n, 28, 28) uint8 training drawings, drawn at random over all categories: the activation ranges."""
    from doodlelab.data import cache
    from doodlelab.data.categories import categories

    train = cache.load_split_arrays("train", categories(), root=root)
    rng = np.random.default_rng(seed)
    return train.images[np.sort(rng.choice(len(train.images), min(n, len(train.images)), replace=False))]


def quantize_beside(weights: str | Path, calibration: np.ndarray, out: str | Path | None = None) -> Path:
    """Export `weights` to float ONNX, quantize it with `calibration` (N, S, S) uint8 images and write
    the result (atomically) to `out` (default `int8_path(weights)`), with its card beside it."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from doodlelab.classifier.evaluate import export_beside
    from doodlelab.onnx_export import onnx_card_path, save_onnx_card

    weights, out = Path(weights), Path(out) if out is not None else int8_path(weights)
    images = (np.asarray(calibration, dtype=np.float32) / 255.0)[:, None]  # (N, 1, S, S), 1 = ink

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self) -> dict | None:
            if self.start >= len(images):
                return None
            self.start += CALIBRATION_BATCH
            return {"images": images[self.start - CALIBRATION_BATCH : self.start]}

    with tempfile.TemporaryDirectory() as tmp:
        float_model = export_beside(weights, Path(tmp) / "float.onnx", features=False)  # logits only
        card = json.loads(onnx_card_path(float_model).read_text(encoding="utf-8"))
        quant_pre_process(str(float_model), str(Path(tmp) / "prepared.onnx"))  # shapes, fused ops
        after_heads = nodes_after_heads(Path(tmp) / "prepared.onnx")
        quantize_static(
            str(Path(tmp) / "prepared.onnx"),
            str(Path(tmp) / "int8.onnx"),
            Batches(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=after_heads,  # an ensemble's average of probabilities stays in float
        )
        data = (Path(tmp) / "int8.onnx").read_bytes()
    modelfile.write_atomically(out, lambda f: f.write(data))
    card |= {
        "onnx_weights": "int8",
        "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "quantization": {
            "method": "static, QOperator (onnxruntime.quantization)",
            "weights": "int8 in a 7-bit range, per output channel",
            "activations": "uint8, min/max calibrated",
            "calibration_images": len(images),
        },
    }
    save_onnx_card(out, card)
    return out


def nodes_after_heads(path: Path) -> list[str]:
    """Names of the nodes that use, directly or not, a linear head's output (Gemm): an ensemble's
    temperatures, log-softmaxes and average (a single network has none). Log-probabilities in uint8
    would round every probability by up to a tenth."""
    import onnx

    graph = onnx.load(str(path)).graph
    tainted = {out for node in graph.node if node.op_type == "Gemm" for out in node.output}
    names = []
    for node in graph.node:  # topological order
        if any(i in tainted for i in node.input):
            names.append(node.name)
            tainted.update(node.output)
    return names


def measure(int8_file: str | Path, weights: str | Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """The 8-bit model against the float weights it came from, on (N, S, S) uint8 bitmaps: each one's
    top-1/top-3 and how often their first guesses agree."""
    from doodlelab.classifier.recognizer import Recognizer, _onnx_session

    reference = Recognizer(weights, backend="torch")
    session = _onnx_session(Path(int8_file))
    x = (np.asarray(images, dtype=np.float32) / 255.0)[:, None]
    q = np.concatenate([session.run(None, {"images": x[i : i + 512]})[0] for i in range(0, len(x), 512)])
    r = reference.logits(images)
    return {
        "n": len(labels),
        "top1": top_k_accuracy(q, labels, 1),
        "top3": top_k_accuracy(q, labels, 3),
        "float_top1": top_k_accuracy(r, labels, 1),
        "float_top3": top_k_accuracy(r, labels, 3),
        "top1_agreement": float((q.argmax(1) == r.argmax(1)).mean()),
        "max_logit_difference": float(np.abs(q - r).max()),
    }
