"""Several trained classifiers served as one network: the weighted average of their calibrated
probabilities, p = sum_i w_i softmax(z_i / T_i), output as log p (one file, one ONNX graph)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from doodlelab import modelfile
from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.model import new_model
from doodlelab.config import Config, ConfigError

FORMAT = "doodlelab-classifier-ensemble/1"


@dataclass
class EnsembleConfig(Config):
    """The members of an ensemble and how their probabilities are mixed (stored in the model file)."""

    members: tuple[dict, ...] = ()  # each member's ClassifierConfig, as stored in its model file
    weights: tuple[float, ...] = ()  # each member's share of the average (> 0, summing to 1)
    temperatures: tuple[float, ...] = ()  # each member's calibration temperature (from its card)
    size: int = 28  # image side in pixels, the members' (all the same)
    categories: tuple[str, ...] = ()  # the members' categories (all the same; empty: all)

    def __post_init__(self) -> None:
        self.members, self.categories = tuple(self.members), tuple(self.categories)
        self.weights = tuple(float(w) for w in self.weights)
        self.temperatures = tuple(float(t) for t in self.temperatures)
        n = len(self.members)
        if n < 1 or len(self.weights) != n or len(self.temperatures) != n:
            raise ConfigError("bad ensemble: one weight and one temperature per member, at least one member")
        if min(self.weights) <= 0 or not math.isclose(sum(self.weights), 1.0, abs_tol=1e-6):
            raise ConfigError(f"bad ensemble: weights must be > 0 and sum to 1, got {list(self.weights)}")
        if not all(math.isfinite(t) and t > 0 for t in self.temperatures):
            raise ConfigError("bad ensemble: temperatures must be finite and > 0")
        configs = [ClassifierConfig.from_dict(m) for m in self.members]
        if any(c.size != self.size or tuple(c.categories) != self.categories for c in configs):
            raise ConfigError("bad ensemble: the members differ in image size or categories")


class EnsembleNet(nn.Module):
    """(B, 1, S, S) images in [0, 1] -> (B, C) log of the mixed calibrated probabilities.

    softmax of the output is the mixture itself, so the model's own temperature stays near 1.
    """

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__()
        self.members = nn.ModuleList(new_model(ClassifierConfig.from_dict(m)) for m in config.members)
        # Constants of the config, not weights: not in the state dict (the file stores them in the config).
        self.register_buffer("log_weights", torch.tensor(config.weights).log(), persistent=False)
        self.register_buffer("inv_temperatures", 1.0 / torch.tensor(config.temperatures), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, C): log sum_i w_i softmax(z_i / T_i), by logsumexp for stability."""
        logp = torch.stack(
            [F.log_softmax(m(x) * t, dim=-1) for m, t in zip(self.members, self.inv_temperatures)]
        )  # (M, B, C)
        return torch.logsumexp(logp + self.log_weights[:, None, None], dim=0)


def combine(
    members: list[tuple[Path, nn.Module, Config, dict]], weights: list[float]
) -> tuple[EnsembleNet, EnsembleConfig, list[dict]]:
    """(network, config, member summaries) from loaded classifier model files, each (path, network,
    config, card) as `checkpoint.load_model` gives them, and their shares of the average."""
    from doodlelab.onnx_export import sha256

    if len(members) != len(weights):
        raise ConfigError(f"{len(members)} members but {len(weights)} weights: give one weight per member")
    paths, loaded = [m[0] for m in members], [m[1:] for m in members]
    for path, (_, config, _) in zip(paths, loaded):
        if not isinstance(config, ClassifierConfig):
            raise modelfile.ModelFileError(f"{path}: an ensemble's members must be single classifiers")
    first = loaded[0][1]
    config = EnsembleConfig(
        members=tuple(c.to_dict() for _, c, _ in loaded),
        weights=tuple(weights),
        temperatures=tuple(float(card.get("temperature", 1.0)) for _, _, card in loaded),
        size=first.size,
        categories=tuple(first.categories),
    )
    net = EnsembleNet(config)
    for member, (model, _, _) in zip(net.members, loaded):
        member.load_state_dict(model.state_dict())
    summaries = [
        {
            "file": Path(p).name,
            "sha256": sha256(p),
            "weight": w,
            "temperature": t,
            "widths": list(c.widths),
            "prefix": c.prefix,
            "test_top1": card.get("test", {}).get("top1"),
        }
        for p, w, t, (_, c, card) in zip(paths, config.weights, config.temperatures, loaded)
    ]
    return net.eval(), config, summaries


def save_model(path: Path, net: EnsembleNet, config: EnsembleConfig, card: dict, dtype=torch.float16) -> Path:
    """The members' weights (`dtype`) under `members.I.` and a card (classes, config, provenance, `card`)."""
    from doodlelab import checkpoints

    arrays = checkpoints.arrays(net.state_dict(), "", dtype)
    return modelfile.save_model(path, arrays, {"format": FORMAT}, config.to_dict(), "split", card)


def from_file(path: str | Path, arrays: dict, meta: dict) -> tuple[EnsembleNet, EnsembleConfig, dict]:
    """(network in eval mode, config, card) from `save_model`'s file, already read as (arrays, meta)."""
    try:
        config = EnsembleConfig.from_dict(meta["config"])
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise modelfile.ModelFileError(f"{path}: bad ensemble config ({exc})") from None
    net = EnsembleNet(config)
    try:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    except RuntimeError as exc:
        raise modelfile.ModelFileError(f"{path}: weights do not match the stored config ({exc})") from None
    return net.eval(), config, modelfile.load_card(path)
