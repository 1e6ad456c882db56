"""Finite-difference gradient checks for every layer, the loss, and a whole Sequential."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab.scratch.layers import (
    Dropout,
    Linear,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    mlp,
    softmax,
)

from .conftest import numeric_grad, rel_error, to_float64


def check_layer(layer, x: np.ndarray, rng: np.random.Generator, reseed=None) -> None:
    """loss = sum(forward(x) * R) for a fixed random R: compare backward with finite differences."""

    def loss() -> float:
        if reseed:
            reseed()
        return float((layer.forward(x) * r).sum())

    r = rng.normal(size=layer.forward(x).shape)
    loss()
    dx = layer.backward(r)
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-7
    for p in layer.params():
        loss()
        layer.backward(r)
        analytic = p.grad.copy()
        assert rel_error(analytic, numeric_grad(loss, p.value)) < 1e-7


def test_linear_gradients():
    rng = np.random.default_rng(0)
    layer = to_float64(Linear(5, 3, rng))
    layer.b.value = rng.normal(size=3)
    check_layer(layer, rng.normal(size=(4, 5)), rng)


def test_linear_shapes_and_he_init():
    layer = Linear(1000, 300, np.random.default_rng(0))
    assert layer.W.value.shape == (1000, 300) and layer.W.value.dtype == np.float32
    assert layer.W.value.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert not layer.b.value.any() and not layer.b.decay and layer.W.decay
    assert layer.forward(np.ones((7, 1000), np.float32)).shape == (7, 300)


def test_relu_gradients():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6))
    x += np.sign(x) * 0.1  # keep away from the kink at 0, where the derivative is undefined
    check_layer(ReLU(), x, rng)


def test_dropout_gradients_with_fixed_mask():
    rng = np.random.default_rng(2)
    layer = Dropout(0.5)

    def reseed():  # the same mask on every forward pass
        layer.rng = np.random.default_rng(123)

    check_layer(layer, rng.normal(size=(5, 8)), rng, reseed=reseed)


def test_dropout_scales_in_training_and_is_identity_in_eval():
    layer = Dropout(0.25, np.random.default_rng(0))
    x = np.ones((200, 500), np.float32)
    y = layer.forward(x)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps the expectation
    layer.training = False
    assert layer.forward(x) is x and layer.backward(x) is x
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_softmax_cross_entropy_gradient_and_value():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    loss_fn = SoftmaxCrossEntropy()
    loss_fn.forward(logits, labels)
    analytic = loss_fn.backward()
    assert rel_error(analytic, numeric_grad(lambda: loss_fn.forward(logits, labels), logits)) < 1e-7
    assert loss_fn.forward(np.zeros((3, 10)), np.array([0, 5, 9])) == pytest.approx(np.log(10))


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss_fn = SoftmaxCrossEntropy()
    logits = np.array([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 3.0]], np.float32)
    loss = loss_fn.forward(logits, np.array([0, 0]))
    grad = loss_fn.backward()
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(1e4)  # sample 1 is off by 2e4, sample 0 is right: mean 1e4
    assert np.allclose(softmax(logits).sum(axis=1), 1.0)


def test_sequential_gradients_end_to_end():
    rng = np.random.default_rng(4)
    drop = Dropout(0.3)
    net = to_float64(Sequential(Linear(6, 5, rng), ReLU(), drop, Linear(5, 4, rng)))
    x, labels = rng.normal(size=(8, 6)), rng.integers(0, 4, size=8)
    loss_fn = SoftmaxCrossEntropy()

    def loss() -> float:
        drop.rng = np.random.default_rng(7)
        return loss_fn.forward(net.forward(x), labels)

    loss()
    dx = net.backward(loss_fn.backward())
    grads = [p.grad.copy() for p in net.params()]
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-7
    for p, analytic in zip(net.params(), grads):
        assert rel_error(analytic, numeric_grad(loss, p.value)) < 1e-7


def test_mlp_structure_and_modes():
    net = mlp((784, 32, 16, 10), dropout=0.5, input_dropout=0.1, rng=np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert len(net.params()) == 6
    assert net.forward(np.zeros((2, 784), np.float32)).shape == (2, 10)
    assert not net.eval().layers[0].training and net.train().layers[0].training
    plain = mlp((784, 32, 10), rng=np.random.default_rng(0))
    assert not plain.layers[0].input_grad  # nobody needs dL/dpixels: the first matmul is skipped
    plain.forward(np.ones((3, 784), np.float32))
    assert plain.backward(np.ones((3, 10), np.float32)) is None
    with pytest.raises(ValueError):
        mlp((784,))
