"""The stroke model with Sketch-RNN's head instead of categorical offsets: a mixture of bivariate Gaussians
over (dx, dy) and a softmax over the pen (Ha & Eck 2017, eq. 3-4, 9-10). Kept for the measured comparison of
the two heads (`benchmarks/compare_sketch_heads.py`); the shipped model uses the categorical head."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import SketchConfig
from doodlelab.generative.sketch_model import SketchTransformer

COMPONENTS = 20  # Gaussians in the mixture (Sketch-RNN's M = 20)
SIGMA_MIN = 0.05  # smallest standard deviation, grid cells (keeps the density finite)


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
        scale = self.grid_size / 8  # outputs of order 1 cover offsets of about an eighth of the box
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


@torch.no_grad()
def sample(
    net: MdnSketchTransformer, label: int, n: int, seed: int, temperature: float, max_len: int
) -> list[np.ndarray]:
    """n new drawings as stroke-5 rows [(t_i, 3)] (each ending with PEN_END): a component drawn from the
    weights at temperature tau, an offset from its Gaussian with variance scaled by tau (Ha & Eck 2017,
    sec. 3.3), rounded to the grid; moves that would leave the box are clipped to it, and a zero move within
    a stroke is drawn again (a few tries). The pen from its softmax at tau; no PEN_END before two points."""
    net.eval()
    g = net.grid_size
    gen = torch.Generator().manual_seed(seed)
    rows = np.zeros((n, 0, 3), np.int64)
    here = np.zeros((n, 2), np.int64)
    pen_before = np.full(n, sd.PEN_START)
    finished, length = np.zeros(n, bool), np.zeros(n, np.int64)
    labels = torch.full((n,), label, dtype=torch.int64)
    cache: list[list] = [[] for _ in net.blocks]
    s = math.sqrt(temperature)  # the Gaussians' standard deviations shrink by sqrt(tau)
    for step in range(max_len):
        inputs = np.tile(np.array([[[g, g, sd.PEN_START]]]), (n, 1, 1))
        where = np.zeros((n, 1, 2), np.int64)
        if step:
            inputs = np.concatenate([rows[:, -1:, :2] + g, rows[:, -1:, 2:]], axis=2)
            where = np.clip(here[:, None], 0, g)
        h = net.hidden(torch.from_numpy(inputs), torch.from_numpy(where), labels, cache, step)[:, -1]
        log_w, mx, my, sx, sy, rho = net.mixture(h)
        k = torch.multinomial(torch.softmax(log_w / temperature, -1), 1, generator=gen)[:, 0]
        pick = [t.gather(1, k[:, None])[:, 0] for t in (mx, my, sx, sy, rho)]
        move = np.zeros((n, 2), np.int64)
        todo = np.ones(n, bool)
        for _ in range(8):  # redraw zero moves within a stroke
            e1, e2 = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
            x = pick[0] + pick[2] * s * e1
            y = pick[1] + pick[3] * s * (pick[4] * e1 + torch.sqrt(1 - pick[4] ** 2) * e2)
            fresh = np.rint(torch.stack([x, y], 1).numpy()).astype(np.int64)
            fresh = np.clip(here + fresh, 0, g) - here
            move[todo] = fresh[todo]
            todo &= (move == 0).all(1) & (pen_before == sd.PEN_DOWN)
            if not todo.any():
                break
        move[todo] = np.where(here[todo] < g, 1, -1) * np.array([1, 0])
        logits = net.pen_logits(h, torch.from_numpy(move[:, 0]).float(), torch.from_numpy(move[:, 1]).float())
        logits = logits.float() / temperature
        if step == 0:
            logits[:, sd.PEN_END] = -math.inf
        pen = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0].numpy()
        if step == max_len - 1:
            pen[:] = sd.PEN_END
        row = np.column_stack([move, pen])
        row[finished] = (0, 0, sd.PEN_END)
        rows = np.concatenate([rows, row[:, None]], axis=1)
        here, pen_before = here + row[:, :2], row[:, 2]
        length += ~finished
        finished |= pen == sd.PEN_END
        if finished.all():
            break
    return [r[:k] for r, k in zip(rows, length)]
