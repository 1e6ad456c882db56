"""Model files and their cards: one card writer for the classifier and the generators, the data named
relative to the data root, float16 weights widened to float32 on loading."""

from __future__ import annotations

import numpy as np
import torch

from doodlelab import modelfile, settings
from doodlelab.classifier import checkpoint
from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.model import new_model
from doodlelab.generative import files
from doodlelab.generative.config import GANConfig

SHARED = ["classes", "config", "dtype", "data", "attribution"]


def test_classifier_and_generator_cards_are_written_alike(tmp_path):
    torch.manual_seed(0)
    config = ClassifierConfig(widths=(8, 16), blocks=(1, 1))
    net = new_model(config)
    checkpoint.save_model(tmp_path / "c.safetensors", net, config, {"temperature": 1.5}, torch.float16)
    generator_net = torch.nn.Linear(3, 2)
    files.save_model(tmp_path / "g.safetensors", "gan", generator_net, GANConfig(), {"steps_trained": 7})
    classifier = modelfile.load_card(tmp_path / "c.safetensors")
    generator = modelfile.load_card(tmp_path / "g.safetensors")
    assert list(classifier) == ["format", *SHARED, "temperature"]
    assert list(generator) == ["format", "kind", *SHARED, "steps_trained"]
    assert (classifier["dtype"], generator["dtype"]) == ("float16", "float32")
    for card in (classifier, generator):
        assert len(card["classes"]) == 345 and card["attribution"] == settings.ATTRIBUTION
        assert "quickdraw/ in the data root" in card["data"]  # not where the data sat on the build machine
        assert "shared/data" not in card["data"] and str(settings.data_dir()) not in card["data"]
    loaded, loaded_config, _ = checkpoint.load_model(tmp_path / "c.safetensors")
    assert loaded_config == config
    for name, value in loaded.state_dict().items():
        assert value.dtype == net.state_dict()[name].dtype
        assert torch.equal(
            value,
            net.state_dict()[name].half().to(value.dtype)
            if value.is_floating_point()
            else net.state_dict()[name],
        )


def test_load_float32_widens_float16_and_leaves_the_rest(tmp_path):
    half = np.array([0.1, 65504.0, 6e-8], np.float16)  # a normal, the largest and a subnormal float16
    counts = np.array([3, 4], np.int64)
    modelfile.save(tmp_path / "w.safetensors", {"w": half, "n": counts})
    arrays, _ = modelfile.load_float32(tmp_path / "w.safetensors")
    assert arrays["w"].dtype == np.float32 and np.array_equal(arrays["w"], half.astype(np.float32))
    assert arrays["n"].dtype == np.int64 and np.array_equal(arrays["n"], counts)
    assert all(a.flags.writeable for a in arrays.values())
