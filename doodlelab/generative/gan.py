"""A class-conditional DCGAN for doodles: a generator with conditional batch norm (de Vries et al. 2017),
a projection discriminator with spectral norm (Miyato & Koyama 2018; Miyato et al. 2018) and an auxiliary
classifier (Odena et al. 2017), the hinge loss, two time-scale updates and an EMA of the generator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from doodlelab.data.categories import categories
from doodlelab.generative import files, training
from doodlelab.generative.config import GANConfig


class CondBatchNorm(nn.Module):
    """BatchNorm without its own affine; the scale and shift come from the class (de Vries et al. 2017)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * channels)
        nn.init.ones_(self.embed.weight[:, :channels])
        nn.init.zeros_(self.embed.weight[:, channels:])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W), y: (B,) -> (B, C, H, W)."""
        gamma, beta = self.embed(y)[:, :, None, None].chunk(2, dim=1)
        return gamma * self.bn(x) + beta


class Generator(nn.Module):
    """G(z, y): (B, z_dim) noise and (B,) labels -> (B, 1, 28, 28) images in [-1, 1].
    DCGAN layout (pytorch/examples): a linear map to 7x7, then two transposed convs up to 28x28. With
    `embed_dim` > 0 a class embedding is also joined to z at the input (as BigGAN joins its shared one)."""

    def __init__(self, num_classes: int, z_dim: int = 128, width: int = 256, embed_dim: int = 0) -> None:
        super().__init__()
        self.num_classes, self.z_dim, self.width = num_classes, z_dim, width
        self.embed = nn.Embedding(num_classes, embed_dim) if embed_dim else None
        self.fc = nn.Linear(z_dim + embed_dim, width * 7 * 7)
        self.bn0 = CondBatchNorm(width, num_classes)
        self.up1 = nn.ConvTranspose2d(width, width // 2, 4, 2, 1)  # 7 -> 14
        self.bn1 = CondBatchNorm(width // 2, num_classes)
        self.up2 = nn.ConvTranspose2d(width // 2, width // 4, 4, 2, 1)  # 14 -> 28
        self.bn2 = CondBatchNorm(width // 4, num_classes)
        self.out = nn.Conv2d(width // 4, 1, 3, padding=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z: (B, z_dim), y: (B,) -> (B, 1, 28, 28)."""
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        h = F.relu(self.bn0(self.fc(z).view(-1, self.width, 7, 7), y))
        h = F.relu(self.bn1(self.up1(h), y))
        h = F.relu(self.bn2(self.up2(h), y))
        return torch.tanh(self.out(h))


class Discriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (the projection discriminator, Miyato & Koyama 2018 eq. 3),
    every layer spectrally normalised (Miyato et al. 2018). x: (B, 1, 28, 28), y: (B,) -> (B,) scores.
    `classify(phi(x))` is the auxiliary classifier's logits (B, num_classes) (AC-GAN, Odena et al. 2017)."""

    def __init__(self, num_classes: int, width: int = 64) -> None:
        super().__init__()
        w = width
        layers = [(1, w, 3, 1), (w, w, 4, 2), (w, 2 * w, 3, 1), (2 * w, 2 * w, 4, 2), (2 * w, 4 * w, 3, 1)]
        self.convs = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, k, s, 1)) for a, b, k, s in layers)
        self.psi = spectral_norm(nn.Linear(4 * w, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, 4 * w))
        self.classify = nn.Linear(4 * w, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (B, 1, 28, 28) -> (B, 4w), convolutions then global sum pooling."""
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
        return h.sum(dim=(2, 3))

    def score(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """psi(h) + <embed(y), h>: (B, 4w), (B,) -> (B,)."""
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28), y: (B,) -> (B,)."""
        return self.score(self.features(x), y)


def build(config: GANConfig) -> Generator:
    return Generator(len(categories()), config.z_dim, config.g_width, config.embed_dim)


@torch.no_grad()
def sample(generator: Generator, labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Images (B, 1, 28, 28) in [-1, 1] for labels (B,); the same seed gives the same images."""
    z = torch.randn((len(labels), generator.z_dim), generator=torch.Generator().manual_seed(seed))
    dev = next(generator.parameters()).device
    return generator.eval()(z.to(dev), labels.to(dev)).cpu()


def train(config: GANConfig, out_dir: str | Path, root: Path | None = None, cache_root: Path | None = None,
          progress: bool = True, resume: bool = True, until_step: int | None = None,
          measure: Callable[[training.SampleFn], float] | None = None) -> dict:
    """Alternate one discriminator and one generator step with the hinge loss (Lim & Ye 2017):
    L_D = E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y), y))] + a·CE(C(x), y),
    L_G = -E[D(G(z, y), y)] + a·CE(C(G(z, y)), y) + m/(|G(z1, y) - G(z2, y)| / |z1 - z2|); the auxiliary
    classifier C learns from real drawings, and the last term keeps one label's drawings apart."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    g = build(config).to(training.device())
    d = Discriminator(len(categories()), config.d_width).to(training.device())
    ema = training.EMA(g, config.ema)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr, betas=(0.0, 0.9))  # TTUR (Heusel et al. 2017)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.d_lr, betas=(0.0, 0.9))

    def step_fn(step: int, real: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        g.train()
        d.train()
        z = torch.randn(len(y), config.z_dim, device=y.device)
        half = len(y) // 2
        y_fake = torch.cat([y[:half], y[:half], y[2 * half:]])  # pairs: one label, two noise vectors
        with training.autocast(config.bf16):
            fake = g(z, y_fake)
            h_real = d.features(real)
            adv_d = F.relu(1 - d.score(h_real, y)).mean() + F.relu(1 + d(fake.detach(), y_fake)).mean()
            aux_d = F.cross_entropy(d.classify(h_real).float(), y)
        opt_d.zero_grad(set_to_none=True)
        (adv_d.float() + config.aux_weight * aux_d).backward()
        opt_d.step()
        with training.autocast(config.bf16):
            h_fake = d.features(fake)
            adv_g = -d.score(h_fake, y_fake).mean()
            aux_g = F.cross_entropy(d.classify(h_fake).float(), y_fake)
        # Mode seeking (Mao et al. 2019 eq. 3): two drawings of one label differ as much as their noise does.
        a, b = slice(0, half), slice(half, 2 * half)
        ratio = (fake[a] - fake[b]).float().abs().mean() / (z[a] - z[b]).abs().mean()
        seek = 1 / (ratio + 1e-5)
        opt_g.zero_grad(set_to_none=True)
        (adv_g.float() + config.aux_weight * aux_g + config.mode_seeking * seek).backward()
        opt_g.step()
        ema.update(g)
        losses = {"loss_d": adv_d, "loss_g": adv_g, "aux_real": aux_d, "aux_fake": aux_g, "pair_gap": ratio}
        return {k: float(v.detach()) for k, v in losses.items()}

    def sample_fn(labels: np.ndarray) -> np.ndarray:
        return files.to_uint8(sample(ema.model, torch.from_numpy(labels), seed=0))

    parts = {"g": g, "d": d, "ema": ema, "opt_g": opt_g, "opt_d": opt_d}
    return training.fit("gan", config, out_dir, parts, ema.model, step_fn, sample_fn, root, cache_root,
                        progress, resume, until_step, measure)
