"""Knowledge distillation (`--teacher`, `--distill`): the network learns the teacher's probabilities, not
only the labels; a teacher of other categories or image size is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodlelab.classifier import checkpoint
from doodlelab.classifier.config import ClassifierConfig, ConfigError
from doodlelab.classifier.model import to_input
from doodlelab.classifier.train import BEST, train
from doodlelab.data import stream
from doodlelab.data.categories import categories
from tests.classifier.conftest import SHAPES, tiny_config


@pytest.fixture(scope="module")
def swapped_teacher(tiny_model, tmp_path_factory):
    """The tiny model with its circle and square outputs swapped: a teacher that disagrees with the labels."""
    model, config, card = checkpoint.load_model(tiny_model)
    i, j = categories().index("circle"), categories().index("square")
    with torch.no_grad():
        for p in (model.head.weight, model.head.bias):
            p[[i, j]] = p[[j, i]].clone()
    path = tmp_path_factory.mktemp("teacher") / "swapped.safetensors"
    checkpoint.save_model(path, model, config, {"note": "circle and square swapped"})
    return path


def _guesses(path, shapes_data) -> tuple[np.ndarray, np.ndarray]:
    """(guessed category index, true index) of the model file at `path` on the shapes' validation split."""
    data, cache = shapes_data
    model, _, _ = checkpoint.load_model(path)
    val = stream.open_split("val", SHAPES, 28, root=data / "quickdraw", cache_root=cache)
    images, labels = val.take(np.arange(len(val)))
    with torch.no_grad():
        guesses = model(to_input(torch.from_numpy(images))).argmax(1).numpy()
    return guesses, labels


@pytest.mark.parametrize("distill", [1.0, 0.0])
def test_the_network_follows_the_teacher_as_far_as_distill_says(
    swapped_teacher, shapes_data, tmp_path, distill
):
    """distill 1: the labels are ignored, so the network calls circles squares as its teacher does; distill
    0: the teacher is loaded but weighs nothing, so the network follows the labels."""
    data, cache = shapes_data
    config = tiny_config(widths=(16, 32), epochs=4, teacher=str(swapped_teacher), distill=distill)
    train(config, tmp_path, root=data / "quickdraw", cache_root=cache, progress=False)
    guesses, labels = _guesses(tmp_path / BEST, shapes_data)
    teacher, _ = _guesses(swapped_teacher, shapes_data)
    circle, square = categories().index("circle"), categories().index("square")
    assert np.mean(teacher[labels == circle] == square) > 0.8  # the teacher is wrong as built
    said_square = np.mean(guesses[labels == circle] == square)
    agree_teacher, agree_labels = np.mean(guesses == teacher), np.mean(guesses == labels)
    if distill == 1.0:
        assert said_square > 0.8 and agree_teacher > agree_labels
    else:
        assert said_square < 0.2 and agree_labels > agree_teacher
    assert checkpoint.load_model(tmp_path / BEST)[1].teacher == str(swapped_teacher)  # in the card


def test_a_teacher_of_another_image_size_is_refused(tiny_model, shapes_data, tmp_path):
    data, cache = shapes_data
    with pytest.raises(checkpoint.CheckpointError, match="image size"):
        train(
            tiny_config(size=32, teacher=str(tiny_model)), tmp_path, root=data / "quickdraw", cache_root=cache
        )


def test_distill_outside_zero_to_one_is_a_config_error():
    with pytest.raises(ConfigError, match="distill"):
        ClassifierConfig(distill=1.5)
