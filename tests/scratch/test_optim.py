"""Optimizers minimise a simple quadratic; weight decay and the learning-rate schedules behave."""

from __future__ import annotations

import math

import numpy as np
import pytest

from doodlelab.lr_schedules import lr_at
from doodlelab.scratch.layers import Param
from doodlelab.scratch.optim import SGD, Adam


def quadratic_descent(make_optimizer, steps: int = 200) -> tuple[float, float]:
    """Minimise f(w) = 0.5 * sum(a * (w - target)^2); return (first f, last f)."""
    rng = np.random.default_rng(0)
    a, target = rng.uniform(0.5, 2.0, size=10), rng.normal(size=10)
    w = Param(np.zeros(10), decay=False)
    opt = make_optimizer([w])
    losses = []
    for _ in range(steps):
        losses.append(0.5 * float(np.sum(a * (w.value - target) ** 2)))
        w.grad = a * (w.value - target)
        opt.step()
    return losses[0], losses[-1]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.1, momentum=0.0),
        lambda p: SGD(p, lr=0.05, momentum=0.9),
        lambda p: Adam(p, lr=0.05),
    ],
    ids=["sgd", "sgd-momentum", "adam"],
)
def test_optimizers_minimise_a_quadratic(make):
    first, last = quadratic_descent(make)
    assert last < 1e-3 * first


def test_adam_first_step_has_size_lr():
    """After bias correction, Adam's first step is lr * sign(grad) (up to eps)."""
    w = Param(np.zeros(3))
    w.grad = np.array([1e-3, -5.0, 200.0])
    Adam([w], lr=0.1).step()
    np.testing.assert_allclose(w.value, [-0.1, 0.1, -0.1], rtol=1e-4)


def test_weight_decay_shrinks_weights_but_not_biases():
    weight, bias = Param(np.ones(4)), Param(np.ones(4), decay=False)
    for opt in (
        SGD([weight, bias], lr=0.1, momentum=0.0, weight_decay=0.5),
        Adam([weight, bias], lr=0.1, weight_decay=0.5),
    ):
        weight.value[:], bias.value[:] = 1.0, 1.0
        weight.grad, bias.grad = np.zeros(4), np.zeros(4)
        opt.step()
        np.testing.assert_allclose(weight.value, 0.95)  # w -= lr * wd * w, both for L2 and decoupled
        np.testing.assert_allclose(bias.value, 1.0)


def test_optimizers_reject_bad_settings():
    with pytest.raises(ValueError):
        SGD([Param(np.zeros(1))], lr=0.0)
    with pytest.raises(ValueError):
        Adam([Param(np.zeros(1))], weight_decay=-1.0)


def test_schedules():
    total = 100
    assert lr_at(0, total, 0.1, "constant") == 0.1 == lr_at(99, total, 0.1, "constant")
    assert lr_at(0, total, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_at(50, total, 0.1, "cosine") == pytest.approx(0.05)
    assert lr_at(100, total, 0.1, "cosine", min_lr=0.01) == pytest.approx(0.01)
    cosine = [lr_at(s, total, 0.1, "cosine") for s in range(total)]
    assert all(a >= b for a, b in zip(cosine, cosine[1:]))
    assert [lr_at(s, total, 1.0, "step") for s in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    warm = [lr_at(s, total, 0.1, "cosine", warmup_steps=10) for s in range(12)]
    assert warm[0] == pytest.approx(0.01) and warm[9] == pytest.approx(0.1)
    assert warm[10] == pytest.approx(0.1) and math.isclose(max(warm), 0.1)
    with pytest.raises(ValueError):
        lr_at(0, total, 0.1, "exponential")
