"""The base of every run's settings (ClassifierConfig, DiffusionConfig, GANConfig, MLPConfig): a dataclass
that turns into the JSON dict stored in checkpoints and model cards, and back."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TypeVar

from doodlelab.errors import ConfigError

__all__ = ["Config", "ConfigError"]

C = TypeVar("C", bound="Config")


class Config:
    """Subclasses are dataclasses whose fields are the settings (and `doodlelab train` flags)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], values: dict) -> C:
        """Rebuild from a checkpoint or card, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
