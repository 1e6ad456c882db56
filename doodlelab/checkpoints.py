"""Training checkpoints of PyTorch runs: networks, optimizer states, the config and the run state in one
safetensors file, written atomically (never pickle), refused when made with other settings."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from doodlelab import modelfile

Part = torch.nn.Module | torch.optim.Optimizer


class CheckpointError(modelfile.ModelFileError):
    """A checkpoint that does not fit this run (another config) or cannot be read."""


def arrays(state: dict[str, torch.Tensor], prefix: str, dtype: torch.dtype | None = None) -> dict:
    """A state dict as numpy arrays named `prefix + key` (floating ones cast to `dtype` when given)."""
    out = {}
    for k, v in state.items():
        v = torch.as_tensor(v).detach().cpu()
        out[prefix + k] = (v.to(dtype) if dtype is not None and v.is_floating_point() else v).numpy()
    return out


def save(path: Path, kind: str, parts: dict[str, Part], config, state: dict) -> None:
    """Networks, optimizer states, config and run state in one file, written atomically."""
    named, groups = {}, {}
    for name, part in parts.items():
        if isinstance(part, torch.optim.Optimizer):
            opt = part.state_dict()
            for index, values in opt["state"].items():
                named.update(arrays(values, f"{name}.{index}."))
            groups[name] = opt["param_groups"]
        else:
            named.update(arrays(part.state_dict(), f"{name}."))
    meta = {
        "format": f"doodlelab-{kind}-checkpoint/1",
        "config": config.to_dict(),
        "state": state,
        "param_groups": groups,
    }
    modelfile.save(path, named, metadata=meta)


def read(path: str | Path, kind: str) -> tuple[dict, dict]:
    """(arrays, metadata) of a `kind` checkpoint written by `save`; CheckpointError for any other file."""
    stored, meta = modelfile.load(path)
    if meta.get("format") != f"doodlelab-{kind}-checkpoint/1":
        raise CheckpointError(f"{path}: not a {kind} training checkpoint")
    return stored, meta


def load(
    path: Path,
    kind: str,
    parts: dict[str, Part],
    config,
    mutable: frozenset[str] = frozenset({"steps", "threads", "checkpoint_every"}),
) -> dict:
    """Restore `parts` from `save`; returns the run state. Configs must match but for `mutable`."""
    stored, meta = read(path, kind)
    # A field added to the config after the checkpoint was made counts as its default value.
    defaults = json.loads(json.dumps(type(config)().to_dict()))
    saved = {k: v for k, v in (defaults | meta["config"]).items() if k not in mutable}
    ours = {k: v for k, v in json.loads(json.dumps(config.to_dict())).items() if k not in mutable}
    if saved != ours:
        changed = sorted(k for k in ours if saved.get(k) != ours[k])
        raise CheckpointError(
            f"{path}: checkpoint was made with other settings ({', '.join(changed)}); "
            "use another output folder or the same settings"
        )
    tensors = {k: torch.from_numpy(v.copy()) for k, v in stored.items()}
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
