"""Classifier metrics from predicted probabilities: top-k, MAP@3, per-category accuracy, confusions, and
calibration (expected calibration error and temperature scaling, Guo et al. 2017). NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N, C) logits -> (N, C) probabilities of softmax(logits / T)."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """(N, C) -> (N, k) class indices, best first."""
    k = min(k, probs.shape[1])
    part = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(probs, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    return float((top_k(probs, k) == labels[:, None]).any(axis=1).mean())


def map_at_3(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean average precision at 3 (the Kaggle Quick Draw metric): 1, 1/2 or 1/3 for a hit at rank
    1, 2 or 3, else 0."""
    hits = top_k(probs, 3) == labels[:, None]
    return float((hits / np.arange(1, 4)).sum(axis=1).mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: |accuracy - confidence| of the top guess, averaged over equal-width confidence bins
    weighted by their share of samples (Guo et al. 2017, eq. 3)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / T)."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(labels)), labels]).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimising validation NLL of softmax(logits / T) (golden-section search on
    log T; the NLL is convex in 1/T). Dividing logits by T keeps every ranking, so accuracy is unchanged."""
    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, np.exp(a)), nll(logits, labels, np.exp(b))
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def report(probs: np.ndarray, labels: np.ndarray, names: Sequence[str], confused: int = 20) -> dict:
    """Every metric of one evaluation as a JSON-ready dict (classes absent from `labels` are skipped)."""
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(predicted, labels, len(names))
    support = matrix.sum(axis=1)
    present = np.flatnonzero(support)
    per_category = {
        names[c]: {"accuracy": round(float(matrix[c, c] / support[c]), 4), "n": int(support[c])}
        for c in present
    }
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = np.argsort(-off, axis=None, kind="stable")[:confused]
    most_confused = [
        {"true": names[i // len(names)], "predicted": names[i % len(names)], "count": int(off.flat[i])}
        for i in pairs
        if off.flat[i] > 0
    ]
    return {
        "n": len(labels),
        "categories": len(present),
        "top1": round(top_k_accuracy(probs, labels, 1), 4),
        "top3": round(top_k_accuracy(probs, labels, 3), 4),
        "map3": round(map_at_3(probs, labels), 4),
        "mean_category_accuracy": round(float(np.mean([v["accuracy"] for v in per_category.values()])), 4),
        "ece": round(expected_calibration_error(probs, labels), 4),
        "most_confused": most_confused,
        "per_category": per_category,
    }
