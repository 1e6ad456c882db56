"""Layers of a dense network in plain NumPy: each has `forward` and `backward`, and keeps what it needs.

Shapes use N for the batch size. `backward` takes dL/d(output) and returns dL/d(input); it overwrites
(never accumulates) the `.grad` of the layer's parameters, so there is no `zero_grad` to forget.
"""

from __future__ import annotations

import numpy as np

DTYPE = np.float32  # float32 throughout: twice as fast as float64 and plenty precise for SGD


class Param:
    """A trainable array `value` and its gradient `grad` (same shape); `decay`: apply weight decay?"""

    def __init__(self, value: np.ndarray, decay: bool = True):
        self.value = value
        self.grad = np.zeros_like(value)
        self.decay = decay

    def __repr__(self) -> str:
        return f"Param(shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class: a layer maps (N, ...) -> (N, ...) and may own parameters."""

    training = True  # Dropout behaves differently in training and evaluation

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> list[Param]:
        return []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


class Linear(Layer):
    """y = x @ W + b.  x: (N, n_in) -> y: (N, n_out); W: (n_in, n_out), b: (n_out,).

    He initialisation: W ~ Normal(0, 2 / n_in), b = 0, which keeps the activations' variance
    roughly constant through ReLU layers (He et al., 2015). A network's first layer can set
    `input_grad = False`: nothing needs dL/dx of the data, and skipping it saves the largest matmul.
    """

    input_grad = True

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng()
        std = np.sqrt(2.0 / n_in)
        self.W = Param(rng.normal(0.0, std, size=(n_in, n_out)).astype(DTYPE))
        self.b = Param(np.zeros(n_out, dtype=DTYPE), decay=False)
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        y = x @ self.W.value
        y += self.b.value  # in place: one (N, n_out) array fewer
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # y_nj = sum_i x_ni W_ij + b_j, so dL/dW_ij = sum_n x_ni dout_nj and dL/db_j = sum_n dout_nj
        self.W.grad = self.x.T @ dout
        self.b.grad = dout.sum(axis=0)
        if not self.input_grad:
            return None  # type: ignore[return-value]
        return dout @ self.W.value.T  # dL/dx_ni = sum_j dout_nj W_ij

    def params(self) -> list[Param]:
        return [self.W, self.b]

    def __repr__(self) -> str:
        n_in, n_out = self.W.value.shape
        return f"Linear({n_in}, {n_out})"


class ReLU(Layer):
    """y = max(x, 0), elementwise.  x: (N, D) -> y: (N, D); the gradient passes where x > 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask

    def __repr__(self) -> str:
        return "ReLU()"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p).

    x: (N, D) -> y: (N, D). In evaluation it is the identity, so no rescaling is needed at test time.
    """

    def __init__(self, p: float, rng: np.random.Generator | None = None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.mask is None else dout * self.mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels, fused for stability and speed.

    forward(logits: (N, C), labels: (N,) ints) -> scalar loss; backward() -> dL/dlogits: (N, C).
    log softmax(z)_k = z_k - max(z) - log(sum_j exp(z_j - max(z))): subtracting the max means exp()
    never overflows, and the gradient of the fused pair is simply (softmax(z) - onehot(y)) / N.
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_norm
        self.probs = np.exp(log_probs)
        self.labels = labels
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self) -> np.ndarray:
        n = len(self.labels)
        dlogits = self.probs.copy()
        dlogits[np.arange(n), self.labels] -= 1.0
        return dlogits / n

    __call__ = forward


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, computed stably; rows sum to 1."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Sequential(Layer):
    """Layers applied in order: forward runs them first to last, backward last to first."""

    def __init__(self, *layers: Layer):
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def params(self) -> list[Param]:
        return [p for layer in self.layers for p in layer.params()]

    def train(self, mode: bool = True) -> Sequential:
        """Switch every layer to training (`mode=True`) or evaluation mode; returns self."""
        self.training = mode
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> Sequential:
        return self.train(False)

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


def mlp(
    sizes: tuple[int, ...] | list[int],
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """A multilayer perceptron: sizes (n_in, h1, ..., n_out) -> Linear, ReLU[, Dropout], ..., Linear.

    The last Linear outputs logits; pair it with SoftmaxCrossEntropy for training and `softmax` after.
    A first Linear layer skips the gradient with respect to its input (see `Linear`).
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers, got {tuple(sizes)}")
    rng = rng if rng is not None else np.random.default_rng()
    layers: list[Layer] = []
    if input_dropout > 0:
        layers.append(Dropout(input_dropout, rng))
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [Linear(int(n_in), int(n_out), rng), ReLU()]
        if dropout > 0:
            layers.append(Dropout(dropout, rng))
    layers.append(Linear(int(sizes[-2]), int(sizes[-1]), rng))
    if isinstance(layers[0], Linear):
        layers[0].input_grad = False  # the gradient with respect to the pixels is never used
    return Sequential(*layers)
