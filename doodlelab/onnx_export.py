"""ONNX files of any doodlelab network: export with torch's dynamo exporter (weights optionally float16),
written atomically, and a JSON card beside each holding the hashes that tie the export to its weights.
torch (the `[train]` extra) is imported only to export; checking an export needs none."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from doodlelab import modelfile

if TYPE_CHECKING:
    import torch


def onnx_card_path(path: str | Path) -> Path:
    """The card of `model.onnx` is `model.onnx.json` (so it never collides with the weights' card)."""
    return Path(path).with_name(Path(path).name + ".json")


def save_onnx_card(path: str | Path, card: dict) -> None:
    """Write `card` beside the ONNX file `path`, atomically."""
    text = json.dumps(card, indent=2) + "\n"
    modelfile.write_atomically(onnx_card_path(path), lambda f: f.write(text.encode()))


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_matches(onnx_path: str | Path, weights: str | Path) -> bool:
    """Whether `onnx_path` was exported from exactly `weights` (both hashes in its card) and ONNX Runtime
    is installed to run it; a missing, stale or unreadable export gives False (it is never used)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    card = onnx_card_path(onnx_path)
    if not Path(onnx_path).is_file() or not card.is_file():
        return False
    try:
        card = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return card.get("onnx_sha256") == sha256(onnx_path) and card.get("weights_sha256") == sha256(weights)


def write_onnx(
    model: torch.nn.Module,
    example: tuple,
    path: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic_shapes: dict,
    float16: bool = False,
    exact_only: bool = False,
) -> bytes:
    """Export `model` (in eval mode) with torch's dynamo exporter and write it to `path` atomically, its
    weights as float16 if asked (`exact_only`: only those float16 holds exactly); the bytes written (their
    hash goes into the card)."""
    import logging

    import torch

    model = model.eval()
    with warnings.catch_warnings(), _quiet(logging.getLogger("torch.onnx")):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            example,
            input_names=inputs,
            output_names=outputs,
            dynamic_shapes=dynamic_shapes,
            dynamo=True,
            verbose=False,
        )
    data = _to_bytes(program, path)
    if float16:
        data = _float16_initializers(data, exact_only)
    modelfile.write_atomically(path, lambda f: f.write(data))
    return data


def _float16_initializers(data: bytes, exact_only: bool = False) -> bytes:
    """Store every float32 weight as float16, cast back to float32 before use. ONNX Runtime folds the casts
    when it loads the model, so inference still runs in float32 at the same speed. Lossy: the exporter has
    folded batch norm into the convolutions, and those weights are rounded (measure before shipping).
    `exact_only` keeps float32 every weight that float16 would change, so the model computes the same."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    casts = []
    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        full = numpy_helper.to_array(init)
        half = full.astype(np.float16)
        if exact_only and not np.array_equal(half.astype(np.float32), full):
            continue  # e.g. a constant the exporter folded: rounding it would change the results
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.float16"))
        casts.append(helper.make_node("Cast", [f"{name}.float16"], [name], to=TensorProto.FLOAT))
    nodes = casts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model.SerializeToString()


def _to_bytes(program, path: Path) -> bytes:
    """ONNXProgram.save wants a path: save beside the target, read back, remove."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.export.tmp")
    try:
        program.save(str(tmp))
        return tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)


class _quiet:
    """Silence a logger for the duration of a block (the exporter is chatty)."""

    def __init__(self, logger) -> None:
        self.logger, self.level = logger, logger.level

    def __enter__(self) -> None:
        self.logger.setLevel(100)

    def __exit__(self, *exc) -> None:
        self.logger.setLevel(self.level)
