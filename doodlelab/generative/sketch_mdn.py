"""The stroke model with Sketch-RNN's head instead of categorical offsets (`--head mixture`): a mixture of
bivariate Gaussians over (dx, dy) and a softmax over the pen given the move (Ha & Eck 2017, eq. 3-4, 9-10)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import COMPONENTS, SIGMA_MIN, SPREAD, SketchConfig
from doodlelab.generative.sketch_model import SketchTransformer


class MdnSketchTransformer(SketchTransformer):
    """The same transformer body (`hidden`); the head gives, per position, a mixture of COMPONENTS
    bivariate Gaussians over the offset (dx, dy) in grid cells and the pen given that offset."""

    def __init__(self, config: SketchConfig, n_classes: int) -> None:
        super().__init__(config, n_classes)
        d = config.width
        del self.head_dx, self.head_dy, self.head_pen, self.dx_out, self.dy_out
        # per component: weight, mu_x, mu_y, sigma_x, sigma_y, rho
        self.head_mix = nn.Linear(d, 6 * COMPONENTS)
        self.head_pen = nn.Linear(d, 3)
        self.offset_out = nn.Linear(2, d)  # the chosen (dx, dy) / G, added before the pen head
        for module in (self.head_mix, self.head_pen, self.offset_out):
            self._init(module)

    def mixture(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """h (..., d) -> (log weights, mu_x, mu_y, sigma_x, sigma_y, rho), each (..., M), in grid cells."""
        logit, mx, my, sx, sy, r = self.head_mix(h).float().chunk(6, dim=-1)
        scale = self.grid_size / SPREAD  # outputs of order 1 cover offsets of about an eighth of the box
        sigma_x = SIGMA_MIN + F.softplus(sx) * scale
        sigma_y = SIGMA_MIN + F.softplus(sy) * scale
        return F.log_softmax(logit, -1), mx * scale, my * scale, sigma_x, sigma_y, 0.95 * torch.tanh(r)

    def offset_log_density(self, h: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(dx = x, dy = y) (...,) under the mixture, per grid cell squared (eq. 9 of Ha & Eck 2017)."""
        log_w, mx, my, sx, sy, rho = self.mixture(h)
        zx, zy = (x[..., None] - mx) / sx, (y[..., None] - my) / sy
        one = 1 - rho**2
        z = zx**2 + zy**2 - 2 * rho * zx * zy
        log_n = -z / (2 * one) - torch.log(2 * math.pi * sx * sy * torch.sqrt(one))
        return torch.logsumexp(log_w + log_n, dim=-1)

    def pen_logits(self, h: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Logits of the pen (..., 3) given the offset (x, y) in grid cells."""
        offset = torch.stack([x, y], dim=-1).to(h.dtype) / self.grid_size
        return self.head_pen(h + self.offset_out(offset))

    def loss(
        self, inputs: torch.Tensor, where: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean NLL per point (nats): -log p(dx, dy) of the offset dequantized by U(-1/2, 1/2) per axis
        (its expectation bounds the NLL of the grid cell from above, so it compares with the categorical
        head's), and -log p(pen | dx, dy). Targets (B, T, 3), IGNORE on padding."""
        h = self.hidden(inputs, where, labels)
        keep = targets[..., 2] != sd.IGNORE
        g = self.grid_size
        cells = (targets[..., :2] - g).float()  # offsets in grid cells (targets store them as 0..2G)
        noisy = cells + torch.rand(cells.shape, device=cells.device) - 0.5
        log_p = self.offset_log_density(h, noisy[..., 0], noisy[..., 1])
        loss_offset = -(log_p * keep).sum() / keep.sum()
        pen = self.pen_logits(h, cells[..., 0], cells[..., 1]).float()
        loss_pen = F.cross_entropy(pen.flatten(0, 1), targets[..., 2].flatten(), ignore_index=sd.IGNORE)
        total = loss_offset + loss_pen
        parts = {"loss": total, "loss_offset": loss_offset, "loss_pen": loss_pen}
        return total, {k: float(v.detach()) for k, v in parts.items()}


def network(config: SketchConfig, n_classes: int) -> SketchTransformer:
    """The network of `config.head`: `SketchTransformer` (tokens) or `MdnSketchTransformer` (mixture)."""
    return (MdnSketchTransformer if config.head == "mixture" else SketchTransformer)(config, n_classes)
