"""Learning-rate schedules shared by every training loop (the NumPy MLP, the classifier, diffusion)."""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "step", "constant")


def lr_at(
    step: int,
    total_steps: int,
    base_lr: float,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    min_lr: float = 0.0,
) -> float:
    """The learning rate for optimizer step `step` (0-based) out of `total_steps`.

    "constant": base_lr.  "cosine": half a cosine from base_lr down to min_lr.  "step": base_lr,
    divided by 10 after 50% and again after 75% of the steps. All start with a linear warm-up.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return base_lr
    if schedule == "cosine":
        return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return base_lr * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))
    raise ValueError(f"unknown learning-rate schedule {schedule!r} (choose constant, cosine or step)")
