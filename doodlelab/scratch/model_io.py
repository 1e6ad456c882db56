"""Save and load a network as `.npz` (no pickle) plus a JSON model card beside it, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from doodlelab.errors import DataError
from doodlelab.scratch.layers import DTYPE, Linear, Sequential, mlp

FORMAT = "doodlelab-mlp/1"
MNIST_PROVENANCE = "MNIST (Yann LeCun and Corinna Cortes; CC BY-SA 3.0)"


def card_path(path: str | Path) -> Path:
    """The model card of `weights.npz` is `weights.json`."""
    return Path(path).with_suffix(".json")


def _linears(model: Sequential) -> list[Linear]:
    return [layer for layer in model.layers if isinstance(layer, Linear)]


def _write_atomically(path: Path, write) -> None:
    """Call write(file) on a temporary file beside `path`, then rename it over `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(path: str | Path, model: Sequential, card: dict | None = None, dtype: str = "float32") -> Path:
    """Write the Linear layers' weights to `path` (.npz) and `card` (plus format and sizes) beside it.

    The archive holds `sizes` (int64: n_in, h1, ..., n_out) and `W0, b0, W1, b1, ...` in `dtype`
    (float32, or float16 to halve the file). Dropout has no weights; the card records the config.
    """
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
    path = Path(path)
    linears = _linears(model)
    sizes = [linears[0].W.value.shape[0]] + [layer.W.value.shape[1] for layer in linears]
    arrays: dict[str, np.ndarray] = {"sizes": np.asarray(sizes, dtype=np.int64)}
    for i, layer in enumerate(linears):
        arrays[f"W{i}"] = layer.W.value.astype(dtype)
        arrays[f"b{i}"] = layer.b.value.astype(dtype)
    _write_atomically(path, lambda f: np.savez(f, **arrays))
    card = {"format": FORMAT, "sizes": sizes, "dtype": dtype, **(card or {})}
    text = json.dumps(card, indent=2, default=_jsonable) + "\n"
    _write_atomically(card_path(path), lambda f: f.write(text.encode()))
    return path


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to a model card")


def _checked(arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    value = arrays.get(name)
    if value is None or value.shape != shape or value.dtype.kind != "f":
        got = "missing" if value is None else f"{value.dtype} {value.shape}"
        raise DataError(f"array {name} should be float {shape}, got {got}", path)
    if not np.isfinite(value).all():
        raise DataError(f"array {name} holds NaN or infinity", path)
    return value.astype(DTYPE)


def load_model(path: str | Path) -> tuple[Sequential, dict]:
    """Rebuild the network saved at `path` (in evaluation mode, float32) and read its card.

    The card is optional ({} when absent). Raises DataError for a missing, malformed or inconsistent
    file; arrays are loaded with allow_pickle=False, so a weights file can never run code.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("weights file not found", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"not a readable .npz weights file ({exc})", path) from None
    sizes = arrays.get("sizes")
    if sizes is None or sizes.ndim != 1 or len(sizes) < 2 or sizes.dtype.kind not in "iu" or sizes.min() < 1:
        raise DataError("missing or malformed `sizes` array", path)
    sizes = [int(s) for s in sizes]
    model = mlp(sizes, rng=np.random.default_rng(0)).eval()
    for i, (layer, n_in, n_out) in enumerate(zip(_linears(model), sizes[:-1], sizes[1:])):
        layer.W.value = _checked(arrays, f"W{i}", (n_in, n_out), path)
        layer.b.value = _checked(arrays, f"b{i}", (n_out,), path)
    card: dict = {}
    if card_path(path).is_file():
        try:
            card = json.loads(card_path(path).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"model card is not valid JSON ({exc})", card_path(path)) from None
        if not isinstance(card, dict):
            raise DataError("model card must be a JSON object", card_path(path))
    return model, card
