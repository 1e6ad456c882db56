"""Shared helpers for the scratch-network tests: finite differences and the MNIST skip marker."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import settings
from doodlelab.scratch.layers import Layer


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f() with respect to every entry of x (changed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """|a - b| / (|a| + |b|) over whole arrays (norms), so tiny entries don't amplify rounding noise."""
    return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))


def to_float64(layer: Layer) -> Layer:
    """Finite differences need float64; the layers work in any dtype they are given."""
    for p in layer.params():
        p.value = p.value.astype(np.float64)
    return layer


needs_mnist = pytest.mark.skipif(not settings.mnist_path().is_file(), reason="MNIST not available")
