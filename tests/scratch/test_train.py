"""The training loop: a tiny network overfits 64 samples, the split is fixed, early stopping works."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab.scratch.layers import SoftmaxCrossEntropy, mlp
from doodlelab.scratch.optim import Adam
from doodlelab.scratch.train import (
    ConfigError,
    MLPConfig,
    evaluate,
    save_curves,
    shifted_batch,
    to_input,
    train,
    validation_split,
)


def random_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random sparse uint8 'images' (n, 28, 28), 20% ink, with random labels: only memorisation fits them."""
    rng = np.random.default_rng(seed)
    ink = rng.integers(1, 256, size=(n, 28, 28)) * (rng.random((n, 28, 28)) < 0.2)
    return ink.astype(np.uint8), rng.integers(0, 10, size=n)


def test_tiny_network_overfits_64_samples():
    images, labels = random_digits(64)
    x = to_input(images)
    net = mlp((784, 32, 10), rng=np.random.default_rng(0))
    opt, loss_fn = Adam(net.params(), lr=3e-3), SoftmaxCrossEntropy()
    for _ in range(100):
        loss = loss_fn.forward(net.forward(x), labels)
        net.backward(loss_fn.backward())
        opt.step()
    assert loss < 0.05
    assert evaluate(net, x, labels)["accuracy"] == 1.0


def test_training_loop_overfits_64_samples():
    images, labels = random_digits(64, seed=1)
    config = MLPConfig(hidden=(32,), dropout=0.0, shift=0, epochs=60, batch_size=16, val_size=0, lr=3e-3)
    result = train(config, images, labels)
    assert evaluate(result.model, to_input(images), labels)["accuracy"] == 1.0
    assert result.history["train_accuracy"][-1] == 1.0
    assert len(result.history["epoch"]) == 60 and result.seconds > 0


def test_early_stopping_restores_the_best_epoch():
    images, labels = random_digits(300, seed=2)  # random labels: validation loss rises as it memorises
    config = MLPConfig(
        hidden=(64,), dropout=0.0, shift=0, epochs=100, batch_size=32, val_size=100, patience=3
    )
    result = train(config, images, labels)
    h = result.history
    assert result.stopped_early and len(h["epoch"]) == result.best_epoch + 3 < 100
    assert min(h["val_loss"]) == h["val_loss"][result.best_epoch - 1]
    _, val_idx = validation_split(300, 100)
    restored = evaluate(result.model, to_input(images[val_idx]), labels[val_idx])["loss"]
    assert restored == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_training_is_reproducible():
    images, labels = random_digits(128, seed=3)
    config = MLPConfig(hidden=(16,), epochs=2, batch_size=32, val_size=28)
    a, b = train(config, images, labels), train(config, images, labels)
    assert a.history["val_loss"] == b.history["val_loss"]


def test_validation_split_is_fixed_and_disjoint():
    train_idx, val_idx = validation_split(60000, 6000)
    assert len(train_idx) == 54000 and len(val_idx) == 6000
    assert not np.intersect1d(train_idx, val_idx).size
    np.testing.assert_array_equal(val_idx, validation_split(60000, 6000)[1])
    with pytest.raises(ValueError):
        validation_split(10, 10)


def test_shifted_batch_moves_images_by_at_most_shift():
    images, _ = random_digits(5)
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    rng = np.random.default_rng(0)
    batch = shifted_batch(padded, np.arange(5), 2, rng)
    assert batch.shape == (5, 784) and batch.dtype == np.float32
    for got, image in zip(batch.reshape(5, 28, 28), padded):
        shifts = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(got, to_input(image[None, dy : dy + 28, dx : dx + 28]).reshape(28, 28))
        ]
        assert shifts
    no_shift = shifted_batch(images, np.arange(5), 0, rng)
    np.testing.assert_array_equal(no_shift, to_input(images))


def test_config_rejects_bad_values_with_a_clear_error():
    with pytest.raises(ConfigError, match="dropout"):
        MLPConfig(dropout=1.5)
    with pytest.raises(ConfigError, match="schedule"):
        MLPConfig(schedule="linear")
    with pytest.raises(ConfigError, match="hidden"):
        MLPConfig(hidden=())


def test_evaluate_reports_a_confusion_matrix():
    net = mlp((784, 10), rng=np.random.default_rng(0))
    images, labels = random_digits(50)
    report = evaluate(net, to_input(images), labels)
    assert report["confusion"].shape == (10, 10) and report["confusion"].sum() == 50
    assert report["accuracy"] == pytest.approx(np.trace(report["confusion"]) / 50)


def test_save_curves_writes_a_png(tmp_path):
    images, labels = random_digits(64)
    result = train(MLPConfig(hidden=(8,), epochs=2, val_size=16), images, labels)
    path = save_curves(result.history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(result.history)  # the history is plain JSON
