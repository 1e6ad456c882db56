"""Train the dense network on MNIST: shuffled mini-batches, random shifts, a learning-rate schedule,
and early stopping on a validation split carved from the 60k training images.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from doodlelab import plots
from doodlelab.config import Config, ConfigError
from doodlelab.lr_schedules import SCHEDULES, lr_at
from doodlelab.scratch.layers import Linear, Sequential, SoftmaxCrossEntropy, mlp, softmax
from doodlelab.scratch.optim import SGD, Adam, Optimizer

N_CLASSES = 10
N_PIXELS = 28 * 28
SPLIT_SEED = 20240601  # fixed, so every run (and the benchmark) holds out the same validation images


@dataclass
class MLPConfig(Config):
    """Every setting of a training run; each field is also a `doodlelab train mlp` flag."""

    hidden: tuple[int, ...] = (512, 256)  # widths of the hidden layers (784 -> ... -> 10)
    dropout: float = 0.2  # dropout probability after each hidden ReLU
    input_dropout: float = 0.0  # dropout probability on the input pixels
    optimizer: str = "adam"  # adam (decoupled weight decay, i.e. AdamW) or sgd (with momentum)
    lr: float = 2e-3  # peak learning rate
    momentum: float = 0.9  # SGD momentum (optimizer=sgd only)
    weight_decay: float = 0.0  # weight decay on the weights (not the biases)
    schedule: str = "cosine"  # learning-rate schedule per step: cosine, step or constant
    warmup_epochs: float = 0.0  # linear learning-rate warm-up at the start, in epochs
    epochs: int = 20  # maximum number of passes over the training images
    batch_size: int = 128  # images per optimizer step
    val_size: int = 6000  # images carved from the 60k training set for validation and early stopping
    patience: int = 5  # stop after this many epochs without a lower validation loss (0: never stop early)
    shift: int = 2  # shift each training image by up to this many pixels in x and y (0: no augmentation)
    seed: int = 0  # seed for initialisation, shuffling, dropout and shifts

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(f"bad MLP setting: {message}")

        check(len(self.hidden) > 0 and min(self.hidden) >= 1, f"bad hidden widths {self.hidden}")
        check(0 <= self.dropout < 1 and 0 <= self.input_dropout < 1, "dropout must be in [0, 1)")
        check(self.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, not {self.optimizer!r}")
        check(self.lr > 0 and self.weight_decay >= 0, "lr must be > 0 and weight_decay >= 0")
        check(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}")
        check(self.epochs >= 1 and self.batch_size >= 1, "epochs and batch_size must be >= 1")
        check(0 <= self.val_size < 60000, f"val_size must be in [0, 60000), got {self.val_size}")
        check(self.patience >= 0 and self.warmup_epochs >= 0, "patience and warmup_epochs must be >= 0")
        check(0 <= self.shift <= 8, f"shift must be in [0, 8], got {self.shift}")


@dataclass
class TrainResult:
    """The trained model (weights of the best validation epoch), its per-epoch history, and timings.

    history maps epoch, lr, train_loss, train_accuracy (running, with dropout and shifts), val_loss,
    val_accuracy and seconds (since the start) to one value per epoch.
    """

    model: Sequential
    config: MLPConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped_early: bool = False


def to_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28), 0 = background -> float32 rows (N, 784) in [0, 1]."""
    return images.reshape(len(images), N_PIXELS).astype(np.float32) * np.float32(1 / 255)


def validation_split(n: int, val_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of a fixed random split of range(n); the same for every run."""
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must be in [0, {n}), got {val_size}")
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def shifted_batch(padded: np.ndarray, idx: np.ndarray, shift: int, rng: np.random.Generator) -> np.ndarray:
    """Crop a random 28x28 window from each chosen image, padded by `shift` on every side.

    padded: (N, 28 + 2 shift, 28 + 2 shift) uint8; idx: (B,) -> (B, 784) float32 in [0, 1].
    """
    windows = sliding_window_view(padded, (28, 28), axis=(1, 2))  # (N, 2s+1, 2s+1, 28, 28), no copy
    dy = rng.integers(0, 2 * shift + 1, size=len(idx))
    dx = rng.integers(0, 2 * shift + 1, size=len(idx))
    return to_input(windows[idx, dy, dx])


def predict_proba(model: Sequential, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Class probabilities (N, 10) for inputs x (N, 784), in evaluation mode (no dropout)."""
    model.eval()
    out = [softmax(model.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES), np.float32)


def evaluate(model: Sequential, x: np.ndarray, labels: np.ndarray) -> dict:
    """Loss, accuracy and confusion matrix (rows: true class, columns: predicted) on (N, 784) inputs."""
    probs = predict_proba(model, x)
    pred = probs.argmax(axis=1)
    loss = -np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12)).mean()
    confusion = np.bincount(labels * N_CLASSES + pred, minlength=N_CLASSES**2).reshape(N_CLASSES, N_CLASSES)
    return {"loss": float(loss), "accuracy": float((pred == labels).mean()), "confusion": confusion}


def make_optimizer(config: MLPConfig, model: Sequential) -> Optimizer:
    if config.optimizer == "adam":
        return Adam(model.params(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return SGD(model.params(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r} (choose adam or sgd)")


def train(
    config: MLPConfig,
    images: np.ndarray,
    labels: np.ndarray,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train an MLP on uint8 `images` (60000, 28, 28) and `labels` (60000,), holding out a validation split.

    Each epoch shuffles the training images, takes mini-batches (randomly shifted when config.shift > 0),
    and ends with an evaluation on the validation images. The returned model has the weights of the
    epoch with the lowest validation loss; training stops after `patience` epochs without improvement.
    With val_size=0 the training loss stands in for the validation loss.
    """
    from tqdm import tqdm

    if images.shape[1:] != (28, 28) or images.dtype != np.uint8 or labels.shape != (len(images),):
        raise ValueError(f"need uint8 images (N, 28, 28) and labels (N,), got {images.shape} {labels.shape}")
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = validation_split(len(images), config.val_size)
    s = config.shift
    padded = np.pad(images[train_idx], ((0, 0), (s, s), (s, s)))  # uint8: 1 byte per pixel
    y_train = labels[train_idx]
    x_val, y_val = to_input(images[val_idx]), labels[val_idx]

    model = mlp((N_PIXELS, *config.hidden, N_CLASSES), config.dropout, config.input_dropout, rng)
    optimizer = make_optimizer(config, model)
    loss_fn = SoftmaxCrossEntropy()
    n, bs = len(y_train), config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    keys = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")
    history: dict[str, list[float]] = {k: [] for k in keys}
    result = TrainResult(model=model, config=config, history=history)
    best_loss, best_weights, step = math.inf, None, 0
    bar = tqdm(total=total_steps, disable=not progress, file=sys.stderr, unit="step", leave=False)

    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            x, y = shifted_batch(padded, idx, s, rng), y_train[idx]
            optimizer.lr = lr_at(step, total_steps, config.lr, config.schedule, warmup_steps)
            logits = model.forward(x)
            loss = loss_fn.forward(logits, y)
            model.backward(loss_fn.backward())
            optimizer.step()
            step += 1
            loss_sum += loss * len(y)
            correct += int((logits.argmax(axis=1) == y).sum())
            bar.update()
        val = evaluate(model, x_val, y_val) if len(y_val) else {"loss": loss_sum / n, "accuracy": correct / n}
        record = (epoch, optimizer.lr, loss_sum / n, correct / n, val["loss"], val["accuracy"])
        for key, value in zip(keys, (*record, time.perf_counter() - started)):
            history[key].append(value)
        line = (
            f"epoch {epoch:3d}/{config.epochs}  lr {optimizer.lr:.2e}  train loss {loss_sum / n:.4f}  "
            f"acc {correct / n:.2%}  val loss {val['loss']:.4f}  acc {val['accuracy']:.2%}"
        )
        bar.set_postfix_str(f"val acc {val['accuracy']:.2%}")
        if log is not None:
            log(line)
        if val["loss"] < best_loss:
            best_loss, result.best_epoch = val["loss"], epoch
            best_weights = [p.value.copy() for p in model.params()]
        elif config.patience and epoch - result.best_epoch >= config.patience:
            result.stopped_early = True
            break
    bar.close()
    for p, value in zip(model.params(), best_weights or []):
        p.value[...] = value
    result.seconds = time.perf_counter() - started
    return result


def linear_sizes(model: Sequential) -> list[int]:
    """(n_in, h1, ..., n_out) of the Linear layers of `model`."""
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    return [linears[0].W.value.shape[0]] + [layer.W.value.shape[1] for layer in linears]


def save_curves(history: dict[str, list[float]], path: str | Path) -> Path:
    """Plot loss and accuracy per epoch (training and validation) side by side into a PNG."""
    return plots.epoch_curves(history, path, train_label="train (running, with dropout and shifts)")
