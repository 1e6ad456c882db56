"""Every setting of a generator training run, one dataclass per model (each field is a `doodlelab train`
flag and is stored in checkpoints and model cards, so `generate` rebuilds the network without flags)."""

from __future__ import annotations

from dataclasses import dataclass

from doodlelab.config import Config, ConfigError
from doodlelab.generative.scheduler import SCHEDULES


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"bad generator setting: {message}")


class _Config(Config):
    """The settings both generators have: data, steps, optimisation, checkpoints."""

    def _check_common(self) -> None:
        self.categories = tuple(self.categories)
        _check(self.steps >= 1 and self.batch_size >= 1, "steps and batch_size must be >= 1")
        _check(self.max_per_category >= 0, "max_per_category must be >= 0")
        _check(self.lr > 0, "lr must be > 0")
        _check(0 <= self.ema < 1, "ema must be in [0, 1)")
        _check(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        _check(self.threads >= 0, "threads must be >= 0")


@dataclass
class DiffusionConfig(_Config):
    """U-Net, noise schedule, classifier-free guidance and optimisation settings of one diffusion run."""

    widths: tuple[int, ...] = (16, 48, 96)  # U-Net channels at 28, 14 and 7 px
    blocks: int = 1  # residual blocks per U-Net level
    emb_dim: int = 128  # size of the timestep + class embedding
    dropout: float = 0.1  # dropout inside the residual blocks
    schedule: str = "cosine"  # noise schedule: cosine, linear or rescaled-linear
    timesteps: int = 1000  # T, the number of diffusion steps
    p_uncond: float = 0.1  # probability of dropping the label in training (classifier-free guidance)
    guidance: float = 2.0  # default guidance scale w at sampling (0: conditional model alone)
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # sampling: guide only while lo <= t/T <= hi
    eta: float = 0.0  # sampling: DDIM's eta, fresh noise per step (0: deterministic ODE; 1: as much as DDPM)
    categories: tuple[str, ...] = ()  # train on these categories only (empty: all that have data)
    max_per_category: int = 0  # data: at most this many drawings of each source per category (0: all)
    steps: int = 20000  # optimizer steps in the whole run
    batch_size: int = 128  # images per optimizer step
    lr: float = 1e-3  # peak learning rate of AdamW (warm-up, then cosine decay to 10%)
    warmup: int = 500  # linear warm-up steps
    ema: float = 0.999  # decay of the exponential moving average of the weights (the shipped weights)
    checkpoint_every: int = 1000  # steps between checkpoints (and sample grids)
    bf16: bool = True  # bfloat16 autocast (CPU with AVX-512 BF16); float16 autocast on a GPU
    threads: int = 0  # torch CPU threads (0: torch's default)
    seed: int = 0  # seed of initialisation, batches, timesteps and noise

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        self._check_common()
        _check(len(self.widths) == 3 and min(self.widths) >= 8, "widths needs 3 entries >= 8 (28, 14, 7 px)")
        _check(all(w % 8 == 0 for w in self.widths), "widths must be multiples of 8 (group norm)")
        _check(self.blocks >= 1 and self.emb_dim >= 8, "blocks >= 1 and emb_dim >= 8")
        _check(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}")
        _check(10 <= self.timesteps <= 4000, "timesteps must be in [10, 4000]")
        _check(0 <= self.p_uncond < 1 and 0 <= self.dropout < 1, "p_uncond and dropout must be in [0, 1)")
        _check(self.guidance >= 0, "guidance must be >= 0")
        self.guidance_interval = interval = tuple(float(v) for v in self.guidance_interval)
        _check(
            len(interval) == 2 and 0 <= interval[0] <= interval[1] <= 1,
            "guidance_interval must be two numbers 0 <= lo <= hi <= 1",
        )
        _check(0 <= self.eta <= 1, "eta must be in [0, 1]")
        _check(self.warmup >= 0, "warmup must be >= 0")


@dataclass
class GANConfig(_Config):
    """Generator, discriminator and optimisation settings of one GAN run."""

    z_dim: int = 128  # size of the latent noise vector
    embed_dim: int = 128  # generator: class embedding joined to z at the input (0: conditional BN only)
    g_width: int = 128  # generator channels at 7 px (halved at 14 and 28 px)
    d_width: int = 32  # discriminator channels at 28 px (doubled at 14 and 7 px)
    categories: tuple[str, ...] = ()  # train on these categories only (empty: all that have data)
    max_per_category: int = 0  # data: at most this many drawings of each source per category (0: all)
    steps: int = 10000  # generator steps in the whole run
    batch_size: int = 64  # images per step
    lr: float = 2e-4  # Adam learning rate of the generator
    d_lr: float = 4e-4  # Adam learning rate of the discriminator (two time-scale update rule)
    aux_weight: float = 1.0  # weight of the auxiliary classifier loss (AC-GAN; 0: projection only)
    augment: bool = False  # DiffAugment: D sees real and generated drawings shifted and partly blanked
    twin: float = 0.0  # TAC-GAN: weight of the twin classifier of generated drawings (0: AC-GAN alone)
    mode_seeking: float = 1.0  # weight of the mode-seeking term (MSGAN): pairs of z per label must differ
    pack: int = 1  # PacGAN: D judges this many drawings of one label at once (2: pairs; 1: one at a time)
    pair_weight: float = 0.0  # D's pair head: |phi(x1) - phi(x2)| of same-label pairs, real or fake (0: off)
    d_warmup: int = 0  # steps at the start in which only D learns (a fine-tune's fresh D catches up with G)
    ema: float = 0.999  # decay of the exponential moving average of the generator (the shipped weights)
    truncation: float = 0.0  # sampling: redraw z entries beyond ±this (truncation trick; 0: off)
    checkpoint_every: int = 1000  # steps between checkpoints (and sample grids)
    bf16: bool = True  # bfloat16 autocast (CPU with AVX-512 BF16, or GPU)
    threads: int = 0  # torch CPU threads (0: torch's default)
    seed: int = 0  # seed of initialisation, batches and noise

    def __post_init__(self) -> None:
        self._check_common()
        _check(self.z_dim >= 1 and self.embed_dim >= 0, "z_dim must be >= 1 and embed_dim >= 0")
        _check(self.g_width >= 16 and self.g_width % 4 == 0, "g_width must be >= 16 and a multiple of 4")
        _check(self.d_width >= 8, "d_width must be >= 8")
        _check(self.d_lr > 0, "d_lr must be > 0")
        _check(self.truncation == 0 or self.truncation >= 0.5, "truncation must be 0 (off) or >= 0.5")
        _check(self.pack in (1, 2) and self.batch_size % 2 == 0, "pack must be 1 or 2, batch_size even")
        _check(self.d_warmup >= 0, "d_warmup must be >= 0")
        _check(
            self.pair_weight >= 0 and (self.pair_weight == 0 or self.pack == 1),
            "pair_weight must be >= 0, and 0 with pack 2 (packed inputs are pairs already)",
        )
        _check(
            min(self.aux_weight, self.twin, self.mode_seeking) >= 0,
            "aux_weight, twin and mode_seeking must be >= 0",
        )
