"""Optimizers (SGD with momentum, Adam) that update `Param`s in place; a schedule (`doodlelab.lr_schedules`)
sets their `lr` before each step."""

from __future__ import annotations

import math

import numpy as np

from doodlelab.scratch.layers import Param


class Optimizer:
    """Holds the parameters and the learning rate `lr`, which a schedule may change before each step."""

    def __init__(self, params: list[Param], lr: float, weight_decay: float = 0.0):
        if lr <= 0 or weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got {lr} and {weight_decay}")
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay, as in torch.optim.SGD.

    g = grad + weight_decay * w;  v = momentum * v + g;  w = w - lr * v.
    Velocities v have the shapes of the parameters; weight decay skips biases (`Param.decay`).
    """

    def __init__(
        self, params: list[Param], lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, weight_decay)
        self.momentum = momentum
        self.velocity = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity):
            g = p.grad
            if self.weight_decay and p.decay:
                g = g + self.weight_decay * p.value
            v *= self.momentum
            v += g
            p.value -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-weight steps scaled by running moments of the gradient.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= lr * m_hat / (sqrt(v_hat) + eps),
    where m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) undo the moments' bias towards 0 early on.
    Weight decay is decoupled (AdamW: w -= lr * weight_decay * w) unless `decoupled=False`, which adds
    it to the gradient as an L2 penalty instead (torch.optim.Adam, scikit-learn's `alpha`).
    """

    def __init__(
        self,
        params: list[Param],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = True,
    ):
        super().__init__(params, lr, weight_decay)
        self.b1, self.b2 = betas
        self.eps = eps
        self.decoupled = decoupled
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]
        self.buffers = [np.empty_like(p.value) for p in self.params]  # scratch space for step()

    def step(self) -> None:
        self.t += 1
        # m_hat / (sqrt(v_hat) + eps) = m / (sqrt(v) + eps * c2) * c2 / c1 with c1 = 1 - b1^t and
        # c2 = sqrt(1 - b2^t): fold the bias corrections into scalars instead of rescaling arrays.
        c1, c2 = 1 - self.b1**self.t, math.sqrt(1 - self.b2**self.t)
        step_size, eps = self.lr * c2 / c1, self.eps * c2
        for p, m, v, buf in zip(self.params, self.m, self.v, self.buffers):
            g = p.grad
            if self.weight_decay and p.decay:
                if self.decoupled:
                    p.value *= 1 - self.lr * self.weight_decay
                else:
                    g = g + self.weight_decay * p.value
            # In place (`*=`, `out=buf`), the same maths as m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
            # w -= step_size * m / (sqrt(v) + eps), without five temporary arrays per step (~25% faster).
            m *= self.b1
            m += np.multiply(g, 1 - self.b1, out=buf)
            v *= self.b2
            v += np.multiply(np.square(g, out=buf), 1 - self.b2, out=buf)
            np.sqrt(v, out=buf)
            buf += eps
            p.value -= np.multiply(np.divide(m, buf, out=buf), step_size, out=buf)
