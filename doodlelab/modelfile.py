"""Model files: safetensors weights (loading never unpickles) with a JSON card beside them, both written
atomically, so a crash leaves the previous file whole. NumPy only: usable without torch.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from doodlelab import settings
from doodlelab.errors import DoodleError

MAX_CARD_BYTES = 10_000_000


class ModelFileError(DoodleError):
    """A weights file or its card is missing, truncated, tampered with or of the wrong kind."""


def card_path(path: str | Path) -> Path:
    """The card of `weights.safetensors` is `weights.json`."""
    return Path(path).with_suffix(".json")


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call write(file) on a temporary file beside `path`, then rename it over `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def save(
    path: str | Path, arrays: dict[str, np.ndarray], card: dict | None = None, metadata: dict | None = None
) -> Path:
    """Write `arrays` to `path` (safetensors, with `metadata` as JSON in its header) and, when given,
    `card` beside it (`card_path`). Returns `path`."""
    from safetensors.numpy import save as to_bytes

    path = Path(path)
    header = {"doodlelab": json.dumps(metadata, default=_jsonable)} if metadata is not None else None
    data = to_bytes({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=header)
    write_atomically(path, lambda f: f.write(data))
    if card is not None:
        save_card(path, card)
    return path


def save_model(
    path: str | Path,
    arrays: dict[str, np.ndarray],
    header: dict,
    config: dict,
    split: str,
    card: dict | None = None,
) -> Path:
    """A trained network's weights `arrays` and its card: `header` (format, kind), the classes, `config`,
    the weights' dtype, the data (doodlelab's `split` of quickdraw/ in the data root), the attribution,
    then `card`. The weights file's metadata holds `header` and `config`: enough to rebuild the network."""
    from doodlelab.data.categories import categories

    dtype = next((str(v.dtype) for v in arrays.values() if v.dtype.kind == "f"), "float32")
    full = {
        **header,
        "classes": categories(),
        "config": config,
        "dtype": dtype,
        "data": f"{settings.ATTRIBUTION}; doodlelab's {split} of quickdraw/ in the data root "
        "(DOODLELAB_DATA), 80/10/10 by drawing",
        "attribution": settings.ATTRIBUTION,
        **(card or {}),
    }
    return save(path, arrays, full, metadata={**header, "config": config})


def save_card(path: str | Path, card: dict) -> Path:
    """Write the JSON card of weights file `path` (atomically); returns the card's path."""
    text = json.dumps(card, indent=2, default=_jsonable) + "\n"
    write_atomically(card_path(path), lambda f: f.write(text.encode()))
    return card_path(path)


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by `save`: (arrays, metadata). Raises ModelFileError if it is not one."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        metadata = json.loads(header.get("doodlelab", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a valid safetensors weights file ({exc})") from None
    return arrays, metadata


def load_float32(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """`load`, with float16 weights (as shipped) widened to float32 and every array writable."""
    arrays, metadata = load(path)
    widened = {k: v.astype(np.float32) if v.dtype == np.float16 else v.copy() for k, v in arrays.items()}
    return widened, metadata


def load_card(path: str | Path) -> dict:
    """The JSON card beside weights file `path`."""
    card = card_path(path)
    try:
        if card.stat().st_size > MAX_CARD_BYTES:
            raise ModelFileError(f"{card}: model card too large")
        value = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{card}: model card missing (it must sit beside {Path(path).name})") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{card}: unreadable model card ({exc})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{card}: model card must be a JSON object")
    return value
