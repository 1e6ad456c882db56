"""Sampling both generators on NumPy arrays, without PyTorch: the GAN's noise and one forward pass, and the
diffusion loop (a scheduler step after each guided noise prediction). The networks are plain callables:
an ONNX Runtime session (`onnx_nets`) or a PyTorch network on NumPy arrays (`training.OnNumpy`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from doodlelab.generative.scheduler import NoiseScheduler

SAMPLERS = ("ddim", "ddpm")


class Network(Protocol):
    """A network on NumPy arrays: the U-Net eps(x_t, t, y) or the GAN's G(z, y)."""

    num_classes: int

    def __call__(self, *inputs: np.ndarray) -> np.ndarray: ...


def gan_noise(n: int, z_dim: int, seed: int, truncation: float = 0.0) -> np.ndarray:
    """z (n, z_dim) float32 from N(0, 1), each entry beyond ±truncation drawn again (the truncation trick,
    Brock et al. 2019: a smaller bound trades variety for fidelity; 0 keeps the plain normal). NumPy's
    generator, so the PyTorch and the ONNX path draw the same z for a seed."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, z_dim), dtype=np.float32)
    while truncation > 0 and (outside := np.abs(z) > truncation).any():
        z = np.where(outside, rng.standard_normal((n, z_dim), dtype=np.float32), z)
    return z


def sample_gan(
    generator: Network, z_dim: int, labels: np.ndarray, seed: int = 0, truncation: float = 0.0
) -> np.ndarray:
    """Images (B, 1, 28, 28) float32 in [-1, 1] = G(z, y) for labels (B,); the same seed, the same images."""
    z = gan_noise(len(labels), z_dim, seed, truncation)
    return generator(z, np.asarray(labels, dtype=np.int64))


def guided_eps(unet: Network, x: np.ndarray, t: int, labels: np.ndarray, guidance: float) -> np.ndarray:
    """Classifier-free guidance (Ho & Salimans 2022 eq. 6): eps~ = (1 + w) eps(x, c) - w eps(x, no label).
    Both branches run as one batch of 2B. x: (B, 1, H, W) float32, labels: (B,) int64 -> (B, 1, H, W)."""
    b = len(x)
    tt = np.full(b, t, dtype=np.int64)
    if guidance == 0:
        return unet(x, tt, labels)
    null = np.full_like(labels, unet.num_classes)  # the "no label" class
    eps = unet(np.concatenate([x, x]), np.concatenate([tt, tt]), np.concatenate([labels, null]))
    cond, uncond = eps[:b], eps[b:]
    return (1 + guidance) * cond - guidance * uncond


def sample_diffusion(
    unet: Network,
    scheduler: NoiseScheduler,
    labels: np.ndarray,
    steps: int = 50,
    guidance: float = 2,
    sampler: str = "ddim",
    eta: float = 0.0,
    seed: int = 0,
    callback: Callable[[int, np.ndarray], None] | None = None,
    interval: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Images (B, 1, 28, 28) float32 in [-1, 1] for `labels` (B,). DDIM with `steps` steps (eta = 0:
    deterministic), or DDPM: ancestral sampling over all T steps (`steps` ignored). `callback(i, x0)` sees
    each step's predicted clean images (B, 1, 28, 28) (the denoising animation). The noise, x_T and each
    step's z, comes from NumPy's generator for `seed`: the same seed gives the same images on any engine.

    Guidance applies only while lo <= t/T <= hi for `interval` (lo, hi) (Kynkäänniemi et al. 2024,
    "Applying guidance in a limited interval"): at the noisiest steps it pulls every sample of a class
    towards one layout, at the cleanest it only sharpens; elsewhere the conditional model runs alone
    (one batch of B instead of 2B)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    if sampler == "ddpm":
        steps, eta = scheduler.num_steps, 1.0
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    x = rng.standard_normal((len(labels), 1, 28, 28), dtype=np.float32)  # x_T ~ N(0, I)
    lo, hi = interval[0] * scheduler.num_steps, interval[1] * scheduler.num_steps
    for i, (t, t_prev) in enumerate(scheduler.timesteps(steps)):
        eps = guided_eps(unet, x, t, labels, guidance if lo <= t <= hi else 0.0)
        x, x0 = scheduler.step(eps, t, t_prev, x, eta=eta, rng=rng)
        if callback is not None:
            callback(i, x0)
    return np.clip(x, -1, 1)
