"""The class-conditional GAN's networks, in the layout of pytorch/examples' DCGAN: a generator with
conditional batch norm (de Vries et al. 2017) and a projection discriminator with spectral norm (Miyato &
Koyama 2018; Miyato et al. 2018). The losses and training tricks are in `gan_training`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from doodlelab.data.categories import categories
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
    every layer spectrally normalised (Miyato et al. 2018). x: (B, pack, 28, 28), y: (B,) -> (B,) scores;
    with pack = 2 each input is two drawings of label y as channels (PacGAN, Lin et al. 2018), so two
    near-identical fakes are told from two people's drawings. `classify(phi(x))` is the auxiliary
    classifier's logits (B, num_classes) (AC-GAN, Odena et al. 2017). With `pair_head`, `pair_score`
    also judges how far apart two single drawings of one label are in phi."""

    def __init__(self, num_classes: int, width: int = 64, pack: int = 1, pair_head: bool = False) -> None:
        super().__init__()
        w = width
        layers = [(pack, w, 3, 1), (w, w, 4, 2), (w, 2 * w, 3, 1), (2 * w, 2 * w, 4, 2), (2 * w, 4 * w, 3, 1)]
        self.convs = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, k, s, 1)) for a, b, k, s in layers)
        self.psi = spectral_norm(nn.Linear(4 * w, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, 4 * w))
        self.classify = nn.Linear(4 * w, num_classes)
        if pair_head:
            self.pair_psi = spectral_norm(nn.Linear(4 * w, 1))
            self.pair_embed = spectral_norm(nn.Embedding(num_classes, 4 * w))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (B, pack, 28, 28) -> (B, 4w), convolutions then global sum pooling."""
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
        return h.sum(dim=(2, 3))

    def score(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """psi(h) + <embed(y), h>: (B, 4w), (B,) -> (B,)."""
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, pack, 28, 28), y: (B,) -> (B,)."""
        return self.score(self.features(x), y)

    def pair_score(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The pair head, a projection score of |phi(x_i) - phi(x_i+B/2)| (minibatch discrimination,
        Salimans et al. 2016, on same-label pairs as PacGAN's): two people's drawings of one label differ,
        a collapsed G's do not. h: (B, 4w) features of single drawings whose rows i and i + B/2 share the
        label y[i]; y: (B,) -> (B/2,) scores."""
        half = len(h) // 2
        gap = (h[:half] - h[half : 2 * half]).abs()
        return self.pair_psi(gap).squeeze(1) + (self.pair_embed(y[:half]) * gap).sum(1)


def build(config: GANConfig) -> Generator:
    return Generator(len(categories()), config.z_dim, config.g_width, config.embed_dim)
