"""Generator files: resumable training checkpoints (several networks and optimizers in one safetensors
file) and shipped model files (EMA weights + card), plus the sample-grid PNG. No pickle anywhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from doodlelab import modelfile, settings
from doodlelab.classifier.checkpoint import CheckpointError
from doodlelab.data.categories import categories

Part = torch.nn.Module | torch.optim.Optimizer


def _arrays(state: dict[str, torch.Tensor], prefix: str, dtype: torch.dtype | None = None) -> dict:
    out = {}
    for k, v in state.items():
        v = torch.as_tensor(v).detach().cpu()
        out[prefix + k] = (v.to(dtype) if dtype is not None and v.is_floating_point() else v).numpy()
    return out


def save_checkpoint(path: Path, kind: str, parts: dict[str, Part], config, state: dict) -> None:
    """Networks, optimizer states, config and run state in one file, written atomically."""
    arrays, groups = {}, {}
    for name, part in parts.items():
        if isinstance(part, torch.optim.Optimizer):
            opt = part.state_dict()
            for index, values in opt["state"].items():
                arrays.update(_arrays(values, f"{name}.{index}."))
            groups[name] = opt["param_groups"]
        else:
            arrays.update(_arrays(part.state_dict(), f"{name}."))
    meta = {
        "format": f"doodlelab-{kind}-checkpoint/1",
        "config": config.to_dict(),
        "state": state,
        "param_groups": groups,
    }
    modelfile.save(path, arrays, metadata=meta)


def load_checkpoint(path: Path, kind: str, parts: dict[str, Part], config,
                    mutable: frozenset[str] = frozenset({"steps", "threads", "checkpoint_every"})) -> dict:
    """Restore `parts` from `save_checkpoint`; returns the run state. Configs must match but for `mutable`."""
    arrays, meta = modelfile.load(path)
    if meta.get("format") != f"doodlelab-{kind}-checkpoint/1":
        raise CheckpointError(f"{path}: not a {kind} training checkpoint")
    saved = {k: v for k, v in meta["config"].items() if k not in mutable}
    ours = {k: v for k, v in json.loads(json.dumps(config.to_dict())).items() if k not in mutable}
    if saved != ours:
        changed = sorted(k for k in ours if saved.get(k) != ours[k])
        raise CheckpointError(
            f"{path}: checkpoint was made with other settings ({', '.join(changed)}); "
            "use another output folder or the same settings"
        )
    tensors = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    for name, part in parts.items():
        mine = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
        if isinstance(part, torch.optim.Optimizer):
            state: dict[int, dict] = {}
            for key, value in mine.items():
                index, field = key.split(".", 1)
                state.setdefault(int(index), {})[field] = value
            part.load_state_dict({"state": state, "param_groups": meta["param_groups"][name]})
        else:
            part.load_state_dict(mine)
    return meta["state"]


def save_model(path: Path, kind: str, model: torch.nn.Module, config, card: dict | None = None,
               dtype: torch.dtype = torch.float32) -> Path:
    """Weights (`dtype`, e.g. float16 to ship) and a card with classes, config, provenance and `card`."""
    full = {
        "format": f"doodlelab-{kind}/1",
        "kind": kind,
        "classes": categories(),
        "config": config.to_dict(),
        "dtype": str(dtype).removeprefix("torch."),
        "data": f"{settings.ATTRIBUTION}; doodlelab's train split of ../shared/data (80/10/10 by drawing)",
        "attribution": settings.ATTRIBUTION,
        **(card or {}),
    }
    meta = {"format": f"doodlelab-{kind}/1", "kind": kind, "config": config.to_dict()}
    return modelfile.save(path, _arrays(model.state_dict(), "", dtype), full, metadata=meta)


def load_state(path: str | Path) -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(kind, config dict, float32 tensors) of a generator model file; refuses anything else."""
    arrays, meta = modelfile.load(path)
    kind = meta.get("kind")
    if kind not in ("diffusion", "gan") or meta.get("format") != f"doodlelab-{kind}/1":
        raise modelfile.ModelFileError(f"{path}: not a doodlelab generator weights file")
    tensors = {
        k: torch.from_numpy(np.asarray(v, np.float32) if v.dtype == np.float16 else v.copy())
        for k, v in arrays.items()
    }
    return kind, meta["config"], tensors


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Model space [-1, 1] (B, 1, H, W) -> numpy_bitmap convention (B, H, W) uint8, 0 background, 255 ink."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(B, H, W) uint8 -> (B, 1, H, W) float in [-1, 1] (background -1, ink +1)."""
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
