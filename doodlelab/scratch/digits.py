"""The shipped digit recognizer: the scratch network trained on MNIST, behind a two-method API."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from doodlelab.scratch.layers import Sequential, softmax
from doodlelab.scratch.model_io import load_model
from doodlelab.scratch.train import to_input

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "mlp_digits.npz"


class DigitClassifier:
    """Classify 28x28 digits (MNIST layout, ink bright) with a network loaded from a `.npz` file."""

    def __init__(self, model: Sequential, card: dict | None = None):
        self.model = model.eval()
        self.card = card or {}
        self.classes = [str(c) for c in self.card.get("classes", range(10))]

    @classmethod
    def load(cls, path: str | Path | None = None) -> DigitClassifier:
        """Load weights from `path` (default: the shipped `doodlelab/weights/mlp_digits.npz`)."""
        return cls(*load_model(path if path is not None else WEIGHTS))

    def predict_proba(self, digits: np.ndarray) -> np.ndarray:
        """uint8 digits (N, 28, 28) or one (28, 28) -> probabilities (N, 10) or (10,)."""
        single = digits.ndim == 2
        batch = digits[None] if single else digits
        probs = softmax(self.model.forward(to_input(batch)))
        return probs[0] if single else probs

    def top(self, digit: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely classes of one (28, 28) digit, best first, as (class name, probability)."""
        probs = self.predict_proba(digit)
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.classes[i], float(probs[i])) for i in order]


@lru_cache(maxsize=1)
def shipped() -> DigitClassifier:
    """The shipped classifier, loaded once per process (for the CLI and the web app)."""
    return DigitClassifier.load()
