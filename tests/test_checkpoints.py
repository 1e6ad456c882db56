"""Training checkpoints: a round trip, the settings check, and fields added to a config after a run."""

from __future__ import annotations

import pytest
import torch

from doodlelab import checkpoints, modelfile
from doodlelab.generative.config import GANConfig


def test_round_trip_refuses_other_settings_and_takes_new_fields_as_defaults(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "last.safetensors"
    checkpoints.save(path, "gan", {"net": net, "opt": opt}, GANConfig(), {"step": 7})
    other = torch.nn.Linear(3, 2)
    state = checkpoints.load(
        path,
        "gan",
        {"net": other, "opt": torch.optim.Adam(other.parameters())},
        GANConfig(steps=99, threads=1),
    )  # mutable fields may change
    assert state == {"step": 7} and torch.equal(other.weight, net.weight)
    with pytest.raises(checkpoints.CheckpointError, match=r"other settings \(lr\)"):
        checkpoints.load(path, "gan", {"net": other}, GANConfig(lr=1.0))
    stored, meta = modelfile.load(path)  # as written before `truncation` existed
    modelfile.save(
        path,
        stored,
        metadata=meta | {"config": {k: v for k, v in meta["config"].items() if k != "truncation"}},
    )
    assert checkpoints.load(
        path, "gan", {"net": other, "opt": torch.optim.Adam(other.parameters())}, GANConfig()
    ) == {"step": 7}
    with pytest.raises(checkpoints.CheckpointError, match="truncation"):
        checkpoints.load(path, "gan", {"net": other}, GANConfig(truncation=1.0))
