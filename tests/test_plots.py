"""Training curves: one panel per logged series, PNG files written in one step."""

from __future__ import annotations

import pytest
from PIL import Image

from doodlelab import plots

EPOCHS = {
    "epoch": [1, 2, 3],
    "train_loss": [2.0, 1.0, 0.5],
    "val_loss": [2.1, 1.2, 0.9],
    "train_accuracy": [0.3, 0.6, 0.8],
    "val_accuracy": [0.3, 0.5, 0.7],
}


def test_epoch_curves_draw_loss_and_accuracy(tmp_path):
    path = plots.epoch_curves(EPOCHS, tmp_path / "curves.png")
    assert Image.open(path).size == (1000, 400)  # two panels, 10 x 4 inches at 100 dpi


def test_step_curves_draw_one_panel_per_series(tmp_path):
    history = {
        "step": [10, 20, 30],
        "loss_d": [1.0, 0.9, 0.8],
        "loss_g": [2.0, 1.5, 1.4],
        "recognizability": [0.1, 0.4],
        "recognizability_step": [15, 30],
    }
    path = plots.step_curves(history, tmp_path / "curves.png")
    assert Image.open(path).size == (864, 270)  # three panels of 3.2 x 3 inches at 90 dpi


def test_a_failed_plot_leaves_the_previous_file_whole(tmp_path):
    path = plots.epoch_curves(EPOCHS, tmp_path / "curves.png")
    before = path.read_bytes()
    with pytest.raises(ValueError):
        plots.epoch_curves(EPOCHS | {"val_loss": [1.0]}, path)  # 3 epochs, 1 loss
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left behind
