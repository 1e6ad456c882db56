"""Classifier files: training checkpoints (weights + AdamW state + run state, one safetensors file) and
model files (weights + card); both rebuild the network from the config stored inside, no flags needed.
"""

from __future__ import annotations

from pathlib import Path

import torch

from doodlelab import checkpoints, modelfile
from doodlelab.checkpoints import CheckpointError  # noqa: F401 (part of this module's interface)
from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.model import new_model

FORMAT = "doodlelab-classifier/1"
# Settings that may change when a run resumes (the stopping point, the loader and the hardware):
MUTABLE = frozenset(
    {"epochs", "patience", "workers", "threads", "device", "compile", "max_steps", "checkpoint_every"}
)


def save_training(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ClassifierConfig,
    state: dict,
) -> None:
    """Everything needed to resume after a kill, written atomically (the old file stays whole until then)."""
    checkpoints.save(path, "classifier", {"model": model, "optim": optimizer}, config, state)


def load_training(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, config: ClassifierConfig
) -> dict:
    """Restore model and optimizer from `save_training`; returns the run state. The checkpoint must
    come from the same config (except the epoch budget and loader settings, which may change)."""
    return checkpoints.load(path, "classifier", {"model": model, "optim": optimizer}, config, MUTABLE)


def save_model(
    path: Path,
    model: torch.nn.Module,
    config: ClassifierConfig,
    card: dict | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Weights (`dtype`, e.g. float16 to ship) and a card with classes, config, provenance and `card`."""
    arrays = checkpoints.arrays(model.state_dict(), "", dtype)
    return modelfile.save_model(path, arrays, {"format": FORMAT}, config.to_dict(), "split", card)


def load_model(path: str | Path) -> tuple[torch.nn.Module, ClassifierConfig, dict]:
    """(network in eval mode with float32 weights, its config, its card) from `save_model`'s file, or
    from `ensemble.save_model`'s (then an EnsembleNet and its EnsembleConfig)."""
    from doodlelab.classifier import ensemble

    arrays, meta = modelfile.load_float32(path)
    if meta.get("format") == ensemble.FORMAT:
        return ensemble.from_file(path, arrays, meta)
    if meta.get("format") != FORMAT:
        raise modelfile.ModelFileError(f"{path}: not a doodlelab classifier weights file")
    card = modelfile.load_card(path)
    config = ClassifierConfig.from_dict(meta["config"])
    model = new_model(config)
    state = {k: torch.from_numpy(v) for k, v in arrays.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise modelfile.ModelFileError(f"{path}: weights do not match the stored config ({exc})") from None
    return model.eval(), config, card
