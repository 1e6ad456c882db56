"""The shared config base: every run's settings go to a JSON dict and back, unknown keys are ignored, and
a bad setting of any config raises the one ConfigError."""

from __future__ import annotations

import json

import pytest

from doodlelab.classifier.config import ClassifierConfig
from doodlelab.config import Config, ConfigError
from doodlelab.errors import DoodleError
from doodlelab.generative.config import DiffusionConfig, GANConfig
from doodlelab.scratch.train import MLPConfig

CONFIGS = {  # each with one setting changed from its default, and one bad setting
    ClassifierConfig: ({"widths": (8, 16), "blocks": (2, 1)}, {"size": 4}),
    DiffusionConfig: ({"guidance_interval": (0.2, 0.8)}, {"timesteps": 5}),
    GANConfig: ({"pack": 2}, {"truncation": 0.1}),
    MLPConfig: ({"hidden": (64,), "schedule": "step"}, {"schedule": "linear"}),
}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_a_config_survives_json_and_ignores_keys_it_does_not_know(cls):
    changed, _ = CONFIGS[cls]
    config = cls(**changed)
    assert isinstance(config, Config)
    stored = json.loads(json.dumps(config.to_dict()))  # as a checkpoint or card holds it: tuples as lists
    assert stored == json.loads(json.dumps(changed | {k: v for k, v in stored.items() if k not in changed}))
    back = cls.from_dict(stored | {"a_setting_from_a_later_version": 1})
    assert json.loads(json.dumps(back.to_dict())) == stored
    assert cls.from_dict({}) == cls()


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_every_config_raises_the_one_config_error(cls):
    _, bad = CONFIGS[cls]
    with pytest.raises(ConfigError, match="setting") as caught:
        cls(**bad)
    assert isinstance(caught.value, DoodleError) and isinstance(caught.value, ValueError)
