"""Training curves as PNG files, written atomically: loss and accuracy per epoch (the classifiers) and one
panel per logged series against the step (the generators). matplotlib is imported on first use."""

from __future__ import annotations

import io
from pathlib import Path

from doodlelab import modelfile


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` as a PNG at `path` in one step (a crash leaves the previous file whole); close it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(fig)
    path = Path(path)
    modelfile.write_atomically(path, lambda f: f.write(buffer.getvalue()))
    return path


def epoch_curves(history: dict[str, list[float]], path: str | Path, train_label: str = "train") -> Path:
    """Loss (log scale) and accuracy per epoch, training and validation, side by side.

    history: "epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy" (fractions), one value
    per epoch each."""
    fig, (ax_loss, ax_acc) = pyplot().subplots(1, 2, figsize=(10, 4))
    epochs = history["epoch"]
    for split, label in {"train": train_label, "val": "validation"}.items():
        ax_loss.plot(epochs, history[f"{split}_loss"], marker=".", label=label)
        ax_acc.plot(epochs, [100 * a for a in history[f"{split}_accuracy"]], marker=".", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path)


def step_curves(history: dict[str, list[float]], path: str | Path) -> Path:
    """Each logged series against the training step, one panel per series.

    history: "step" (the steps at which series were logged) and the series, each logged at the last
    len(series) of those steps; a series logged at steps of its own lists them as "{name}_step"."""
    keys = [k for k in history if k != "step" and not k.endswith("_step") and history[k]]
    fig, axes = pyplot().subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        steps = history.get(f"{key}_step") or history["step"][-len(history[key]) :]
        ax.plot(steps, history[key], marker="." if len(steps) < 50 else None)
        ax.set(xlabel="step", title=key)
        ax.grid(alpha=0.3)
    return save(fig, path, dpi=90)
