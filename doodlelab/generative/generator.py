"""Load a shipped or trained generator file and draw doodles of a category: the one entry point used by
`doodlelab generate`, `doodlelab evaluate generator`, the web app and the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from doodlelab import modelfile
from doodlelab.data.categories import categories, resolve
from doodlelab.errors import DataError
from doodlelab.generative import diffusion, files, gan
from doodlelab.generative.config import DiffusionConfig, GANConfig

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MODELS = ("diffusion", "gan")
MAX_N = 1024  # samples per call
MAX_GUIDANCE = 20.0


def shipped(model: str) -> Path:
    """Path of the shipped weights of `model` (diffusion or gan)."""
    if model not in MODELS:
        raise DataError(f"unknown generator {model!r}; choose one of {', '.join(MODELS)}")
    return WEIGHTS / f"{model}.safetensors"


class DoodleGenerator:
    """A generator rebuilt from its file (config inside, no flags): `gen("cat", n=16, seed=0)` ->
    (16, 28, 28) uint8, 0 background and 255 ink, like Google's numpy bitmaps."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.kind, config, tensors = files.load_state(self.path)
        self.card = modelfile.load_card(self.path)
        if self.kind == "diffusion":
            self.config = DiffusionConfig.from_dict(config)
            self.net, self.scheduler = diffusion.build(self.config)
        else:
            self.config = GANConfig.from_dict(config)
            self.net = gan.build(self.config)
        try:
            self.net.load_state_dict(tensors)
        except RuntimeError as exc:
            raise modelfile.ModelFileError(
                f"{path}: weights do not match the stored config ({exc})"
            ) from None
        self.net.eval().requires_grad_(False)

    @property
    def max_steps(self) -> int:
        return self.config.timesteps if self.kind == "diffusion" else 1

    def check(self, category: str, n: int, seed: int, steps: int | None, guidance: float | None,
              sampler: str = "ddim") -> tuple[int, int, float]:
        """(label, steps, guidance) after validating every argument; DataError with a clear message."""
        label = categories().index(resolve(category))
        if not isinstance(n, int) or not 1 <= n <= MAX_N:
            raise DataError(f"n must be an integer from 1 to {MAX_N}, got {n!r}")
        if not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise DataError(f"seed must be an integer >= 0, got {seed!r}")
        if self.kind != "diffusion":
            return label, 1, 0.0
        steps = 50 if steps is None else steps
        guidance = self.config.guidance if guidance is None else guidance
        if not isinstance(steps, int) or not 1 <= steps <= self.max_steps:
            raise DataError(f"steps must be an integer from 1 to {self.max_steps}, got {steps!r}")
        if not np.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
            raise DataError(f"guidance must be from 0 to {MAX_GUIDANCE:g}, got {guidance!r}")
        if sampler not in diffusion.SAMPLERS:
            raise DataError(f"sampler must be one of {', '.join(diffusion.SAMPLERS)}, got {sampler!r}")
        return label, steps, float(guidance)

    def __call__(self, category: str, n: int = 16, seed: int = 0, steps: int | None = None,
                 guidance: float | None = None, sampler: str = "ddim",
                 frames: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
        """n samples (n, 28, 28) uint8 of `category`; the same arguments give the same images.
        Diffusion only: `steps`, `guidance`, `sampler` (ddim or ddpm, which runs all T steps), and
        `frames(i, x0)` called with each step's predicted clean images (n, 28, 28) uint8."""
        label, steps, guidance = self.check(category, n, seed, steps, guidance, sampler)
        labels = torch.full((n,), label, dtype=torch.long)
        if self.kind == "gan":
            return files.to_uint8(gan.sample(self.net, labels, seed, self.config.truncation))
        callback = (lambda i, x0: frames(i, files.to_uint8(x0.cpu()))) if frames else None
        x = diffusion.sample(
            self.net, self.scheduler, labels, steps, guidance, sampler, seed=seed, callback=callback
        )
        return files.to_uint8(x.cpu())


def load(model_or_path: str | Path) -> DoodleGenerator:
    """`diffusion` or `gan` (the shipped weights) or a path to a generator file."""
    if str(model_or_path) in MODELS:
        path = shipped(str(model_or_path))
        if not path.is_file():
            raise modelfile.ModelFileError(f"no shipped {model_or_path} weights at {path}")
        return DoodleGenerator(path)
    return DoodleGenerator(model_or_path)
