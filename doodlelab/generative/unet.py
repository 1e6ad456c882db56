"""The noise-prediction network of the diffusion model: a small U-Net with residual blocks, a sinusoidal
timestep embedding, a class embedding (one extra "no label" class for classifier-free guidance) and
self-attention at the lowest resolution. It only predicts noise; the scheduler owns the process."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal timestep embedding (Vaswani et al. 2017, as in Ho et al. 2020). t: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding applied as a scale and shift of the second norm
    (improved-diffusion's `use_scale_shift_norm`); the last conv starts at zero; identity at first."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.drop = _norm(cout), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """x: (B, cin, H, W), emb: (B, emb_dim) -> (B, cout, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.drop(F.silu(h)))


class Attention(nn.Module):
    """Multi-head self-attention over the H·W positions, residual, output projection starting at zero."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.norm = heads, _norm(channels)
        self.qkv, self.out = nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W)."""
        b, c, h, w = x.shape
        q, k, v = (
            self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(3, 4).unbind(1)
        )
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, H·W, C/heads)
        return x + self.out(y.transpose(2, 3).reshape(b, c, h, w))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): (B, 1, 28, 28) noisy images, (B,) timesteps, (B,) labels -> (B, 1, 28, 28) noise.

    Label `num_classes` means "no label" (the unconditional model used by classifier-free guidance).
    Levels run at 28, 14 and 7 px with `widths` channels; attention at the last level and in the middle.
    """

    def __init__(
        self,
        num_classes: int,
        widths: tuple[int, ...] = (32, 64, 128),
        blocks: int = 1,
        emb_dim: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_classes, self.base = num_classes, widths[0]
        self.time = nn.Sequential(nn.Linear(widths[0], emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(num_classes + 1, emb_dim)
        self.stem = nn.Conv2d(1, widths[0], 3, padding=1)
        last = len(widths) - 1
        self.down, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        ch, skips = widths[0], []
        for i, width in enumerate(widths):
            level = nn.ModuleList()
            for _ in range(blocks):
                level.append(ResBlock(ch, width, emb_dim, dropout))
                ch = width
            self.down.append(level)
            self.down_attn.append(Attention(ch) if i == last else nn.Identity())
            skips.append(ch)
            self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1) if i < last else nn.Identity())
        self.mid1, self.mid_attn, self.mid2 = (
            ResBlock(ch, ch, emb_dim, dropout),
            Attention(ch),
            ResBlock(ch, ch, emb_dim, dropout),
        )
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            level = nn.ModuleList()
            for j in range(blocks):
                level.append(ResBlock(ch + (skips[i] if j == 0 else 0), width, emb_dim, dropout))
                ch = width
            self.up.append(level)
            self.up_attn.append(Attention(ch) if i == last else nn.Identity())
            self.upsample.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, widths[i - 1], 3, padding=1)
                )
                if i > 0
                else nn.Identity()
            )
            ch = widths[i - 1] if i > 0 else ch
        self.head = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, H, W), t: (B,) in 0..T, y: (B,) in 0..num_classes -> predicted noise (B, 1, H, W)."""
        emb = self.time(timestep_embedding(t, self.base)) + self.label(y)
        h, skips = self.stem(x), []
        for level, attn, down in zip(self.down, self.down_attn, self.downsample):
            for block in level:
                h = block(h, emb)
            h = attn(h)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for level, attn, up in zip(self.up, self.up_attn, self.upsample):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in level:
                h = block(h, emb)
            h = up(attn(h))
        return self.head(h)
