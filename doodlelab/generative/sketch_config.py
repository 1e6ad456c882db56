"""Settings of the stroke model (`doodlelab train sketch`): one dataclass, each field a flag, stored in
checkpoints and in the model card so that sampling rebuilds the network without flags."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from doodlelab.config import Config, ConfigError

HEADS = ("tokens", "mixture")  # the stroke model's heads for the move (dx, dy)
COMPONENTS = 20  # Gaussians in the mixture head (Sketch-RNN's M = 20)
SIGMA_MIN = 0.05  # the mixture's smallest standard deviation, grid cells (keeps the density finite)
MAX_GUIDANCE = 10.0  # the largest classifier-free guidance w sampling accepts (CLI and API alike)
MAX_DRAWINGS = 64  # doodles per `generate` call of the stroke model, and completions per drawing
SPREAD = 8  # the mixture's raw outputs are in units of grid_size / SPREAD cells (an eighth of the box)
SHIPPED = Path(__file__).resolve().parent.parent / "weights" / "sketch.safetensors"  # the shipped model file


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"bad sketch setting: {message}")


@dataclass
class SketchConfig(Config):
    """Token grid, transformer size, augmentation, optimisation and sampling defaults of one run."""

    categories: tuple[str, ...] = ()  # train on these categories only (empty: all that have data)
    grid_size: int = 64  # pen positions per axis are 0..grid_size across the 0..255 box (64: ~4 units)
    max_len: int = 128  # most points in a drawing: longer ones are left out of training; the sampling bound
    max_per_category: int = 0  # use at most this many drawings per category and source (0: all; the cache's)
    head: str = "mixture"  # the move's head: mixture (20 Gaussians, as Sketch-RNN) or tokens (grid softmaxes)
    width: int = 192  # transformer width d (embeddings, attention, residual stream)
    layers: int = 4  # transformer blocks
    heads: int = 4  # attention heads per block (width must divide by heads)
    dropout: float = 0.1  # dropout on attention weights and residual branches
    p_uncond: float = 0.1  # probability of training a drawing under the "no category" class
    aug_rotate: float = 8.0  # augmentation: largest random rotation, degrees
    aug_stretch: float = 0.1  # augmentation: largest log-stretch of x against y (random anisotropic scale)
    steps: int = 20000  # optimizer steps in the whole run
    batch_size: int = 64  # drawings per optimizer step
    bucket: int = 16  # batches drawn together and regrouped by length (less padding); 1: plain random batches
    lr: float = 1e-3  # peak learning rate of AdamW (linear warm-up, then cosine decay to 10%)
    warmup: int = 500  # linear warm-up steps
    weight_decay: float = 0.1  # AdamW decoupled weight decay of the weight matrices
    ema: float = 0.999  # decay of the exponential moving average of the weights (the shipped weights)
    temperature: float = 0.7  # default sampling temperature tau (Ha & Eck 2017 sample at 0.1 .. 1)
    top_p: float = 0.95  # default nucleus: sample from the smallest set of values holding this probability
    guidance: float = 2.0  # default classifier-free guidance w: sample p_c^(1+w) / p_none^w (0: off)
    val_size: int = 512  # validation drawings whose loss is measured at each checkpoint
    checkpoint_every: int = 1000  # steps between checkpoints (and sample grids and validation loss)
    bf16: bool = True  # bfloat16 autocast (CPU with AVX-512 BF16, or GPU)
    device: str = "auto"  # cpu, cuda or auto (cuda when a GPU is present; under torchrun, the LOCAL_RANK-th)
    threads: int = 0  # torch CPU threads (0: torch's default)
    workers: int = 0  # processes preparing batches ahead of the step (0: in the training process)
    seed: int = 0  # seed of initialisation, batches, augmentation and dropout

    def __post_init__(self) -> None:
        self.categories = tuple(self.categories)
        _check(8 <= self.grid_size <= 255, "grid_size must be in [8, 255]")
        _check(8 <= self.max_len <= 1024, "max_len must be in [8, 1024]")
        _check(self.head in HEADS, f"head must be one of {', '.join(HEADS)}")
        _check(self.width >= 8 and self.layers >= 1 and self.heads >= 1, "width >= 8, layers and heads >= 1")
        _check(self.width % self.heads == 0, "width must be a multiple of heads")
        _check(0 <= self.dropout < 1 and 0 <= self.p_uncond < 1, "dropout and p_uncond must be in [0, 1)")
        _check(
            0 <= self.aug_rotate <= 45 and 0 <= self.aug_stretch <= 1,
            "aug_rotate must be in [0, 45], aug_stretch in [0, 1]",
        )
        _check(min(self.steps, self.batch_size, self.bucket) >= 1, "steps, batch_size, bucket must be >= 1")
        _check(self.lr > 0 and self.warmup >= 0 and self.weight_decay >= 0, "lr > 0, warmup and decay >= 0")
        _check(0 <= self.ema < 1, "ema must be in [0, 1)")
        check_sampling(self.temperature, self.top_p, self.guidance)
        _check(self.val_size >= 1 and self.checkpoint_every >= 1, "val_size and checkpoint_every >= 1")
        _check(
            min(self.threads, self.workers, self.max_per_category) >= 0,
            "threads, workers and max_per_category must be >= 0",
        )
        _check(self.device in ("cpu", "cuda", "auto"), "device must be one of cpu, cuda, auto")


def check_sampling(temperature: float, top_p: float, guidance: float = 0.0) -> None:
    """ConfigError unless 0 < temperature <= 10, 0 < top_p <= 1 and 0 <= guidance <= 10 (NaN fails all)."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and 0 < temperature <= 10):
        raise ConfigError(f"temperature must be > 0 and <= 10, got {temperature}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ConfigError(f"top_p must be > 0 and <= 1, got {top_p}")
    if not (isinstance(guidance, (int, float)) and 0 <= guidance <= MAX_GUIDANCE):
        raise ConfigError(f"guidance must be >= 0 and <= {MAX_GUIDANCE:g}, got {guidance}")
