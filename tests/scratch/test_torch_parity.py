"""The same weights and inputs in torch give the same outputs, gradients and optimizer steps.

torch is imported only here, as a reference implementation (like micrograd's tests); the scratch
package itself never imports it (see test_no_torch.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab.scratch.layers import Dropout, Linear, ReLU, Sequential, SoftmaxCrossEntropy
from doodlelab.scratch.optim import SGD, Adam

torch = pytest.importorskip("torch")


def twin_networks(rng: np.random.Generator):
    """A scratch Sequential and a torch.nn.Sequential holding the same float64 weights."""
    ours = Sequential(Linear(12, 8, rng), ReLU(), Linear(8, 6, rng), ReLU(), Linear(6, 5, rng))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5)
    ).double()
    for layer, t_layer in zip(ours.layers[::2], theirs[::2]):
        layer.W.value = rng.normal(size=layer.W.value.shape)
        layer.b.value = rng.normal(size=layer.b.value.shape)
        with torch.no_grad():
            t_layer.weight.copy_(torch.from_numpy(layer.W.value.T))  # torch stores (out, in)
            t_layer.bias.copy_(torch.from_numpy(layer.b.value))
    return ours, theirs


def test_forward_and_backward_match_torch():
    rng = np.random.default_rng(0)
    ours, theirs = twin_networks(rng)
    x, labels = rng.normal(size=(16, 12)), rng.integers(0, 5, size=16)

    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(ours.forward(x), labels)
    dx = ours.backward(loss_fn.backward())

    tx = torch.from_numpy(x).requires_grad_()
    t_logits = theirs(tx)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(labels))
    t_loss.backward()

    np.testing.assert_allclose(ours.forward(x), t_logits.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for layer, t_layer in zip(ours.layers[::2], theirs[::2]):
        np.testing.assert_allclose(layer.W.grad, t_layer.weight.grad.numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.b.grad, t_layer.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_float32_forward_matches_torch():
    rng = np.random.default_rng(1)
    layer = Linear(784, 64, rng)
    x = rng.random((32, 784), dtype=np.float32)
    expected = torch.from_numpy(x) @ torch.from_numpy(layer.W.value) + torch.from_numpy(layer.b.value)
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_dropout_matches_torch_semantics():
    """Same mask -> same output and gradient as torch's inverted dropout (which we re-apply by hand)."""
    rng = np.random.default_rng(2)
    layer = Dropout(0.4, np.random.default_rng(0))
    x = rng.normal(size=(10, 20))
    y = layer.forward(x)
    mask = (y != 0).astype(np.float64)
    expected = torch.from_numpy(x) * torch.from_numpy(mask) / (1 - 0.4)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), mask / 0.6, rtol=1e-6)


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        (
            "sgd",
            lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        ),
        (
            "adam-l2",
            lambda p: Adam(p, lr=0.01, weight_decay=0.01, decoupled=False),
            lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
        ),
        (
            "adamw",
            lambda p: Adam(p, lr=0.01, weight_decay=0.1),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        ),
    ],
)
def test_optimizer_steps_match_torch(name, ours, theirs):
    rng = np.random.default_rng(3)
    net, t_net = twin_networks(rng)
    # torch decays biases too; exclude ours from the comparison by decaying only weights in torch as well
    weights = [t.weight for t in t_net[::2]]
    biases = [t.bias for t in t_net[::2]]
    t_opt = theirs([{"params": weights}, {"params": biases, "weight_decay": 0.0}])
    params = [p for layer in net.layers[::2] for p in (layer.W,)] + [layer.b for layer in net.layers[::2]]
    opt = ours(params)
    loss_fn = SoftmaxCrossEntropy()
    for _ in range(5):
        x, labels = rng.normal(size=(16, 12)), rng.integers(0, 5, size=16)
        loss_fn.forward(net.forward(x), labels)
        net.backward(loss_fn.backward())
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(t_net(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
        t_opt.step()
    for layer, t_layer in zip(net.layers[::2], t_net[::2]):
        np.testing.assert_allclose(layer.W.value, t_layer.weight.detach().numpy().T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.b.value, t_layer.bias.detach().numpy(), rtol=1e-9, atol=1e-12)
