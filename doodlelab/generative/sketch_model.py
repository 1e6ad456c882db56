"""The stroke model: a small GPT-style causal transformer (Vaswani et al. 2017; Radford et al. 2019) over
stroke-5 rows whose offsets are categorical on a grid, conditioned on the category (or "no category")."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from doodlelab.generative.sketch_config import SketchConfig
from doodlelab.generative.sketch_data import IGNORE


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)) (GPT-2's layout)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); position t attends to positions <= t only. With `cache` (a list, empty at
        the first call) the keys and values of earlier calls are kept in it and x holds only the new
        positions: one at a time after the first call (incremental decoding with a key-value cache)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        causal = True
        if cache is not None:
            if cache:
                if t != 1:
                    raise ValueError("after the first call a cached block takes one position at a time")
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
                causal = False  # the one new position attends to every earlier one
            cache[:] = [k, v]
        # softmax(q kᵀ / sqrt(d_k)) v with a causal mask: eq. 1 of Vaswani et al. 2017
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp(self.norm2(x)))


class SketchTransformer(nn.Module):
    """p(row_t | rows < t, class) for stroke-5 rows (dx, dy, pen), factorised within a row as
    p(dx) p(dy | dx) p(pen | dx, dy), each a softmax (categorical offsets as in PixelRNN's discrete
    softmax, van den Oord et al. 2016, instead of Sketch-RNN's Gaussian mixture).

    Classes 0..n_classes-1 are the categories of the run; class n_classes is "no category"."""

    def __init__(self, config: SketchConfig, n_classes: int) -> None:
        super().__init__()
        d, g = config.width, config.grid_size
        self.n_classes, self.grid_size, self.max_len = n_classes, g, config.max_len
        offsets = 2 * g + 1  # dx, dy in -G..G, stored as 0..2G
        self.dx_in, self.dy_in = nn.Embedding(offsets, d), nn.Embedding(offsets, d)  # the previous row
        self.pen_in = nn.Embedding(4, d)  # its pen state, or PEN_START
        self.x_in, self.y_in = nn.Embedding(g + 1, d), nn.Embedding(g + 1, d)  # where the pen is now
        self.time_in = nn.Embedding(config.max_len, d)  # learned position in the sequence
        self.class_in = nn.Embedding(n_classes + 1, d)  # added at every step, as Sketch-RNN feeds z
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(d, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(d)
        self.head_dx, self.head_dy = nn.Linear(d, offsets), nn.Linear(d, offsets)
        self.head_pen = nn.Linear(d, 3)
        self.dx_out, self.dy_out = nn.Embedding(offsets, d), nn.Embedding(offsets, d)  # the chosen dx, dy
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)  # GPT-2's initialisation
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(
        self,
        inputs: torch.Tensor,
        where: torch.Tensor,
        labels: torch.Tensor,
        cache: list[list] | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        """inputs (B, T, 3) previous rows (offset indices 0..2G, pen 0..3), where (B, T, 2) pen positions
        0..G, labels (B,) 0..n_classes -> hidden states (B, T, d) after the final layer norm. With `cache`
        (one list per block, see `Block.forward`) the inputs are positions start..start+T-1 of a sequence
        whose earlier positions were fed before."""
        t = torch.arange(start, start + inputs.shape[1], device=inputs.device)
        h = (
            self.dx_in(inputs[..., 0])
            + self.dy_in(inputs[..., 1])
            + self.pen_in(inputs[..., 2])
            + self.x_in(where[..., 0])
            + self.y_in(where[..., 1])
            + self.time_in(t)
            + self.class_in(labels)[:, None]
        )
        h = self.drop(h)
        for i, block in enumerate(self.blocks):
            h = block(h, None if cache is None else cache[i])
        return self.norm(h)

    def heads(self, h: torch.Tensor, dx: torch.Tensor | None = None, dy: torch.Tensor | None = None):
        """Logits of a row from hidden states h (..., d): dx (..., 2G+1); given dx, dy (..., 2G+1); given
        dx and dy, the pen (..., 3). Missing inputs give None for the heads that need them."""
        logits_dx = self.head_dx(h)
        if dx is None:
            return logits_dx, None, None
        h = h + self.dx_out(dx)
        logits_dy = self.head_dy(h)
        if dy is None:
            return logits_dx, logits_dy, None
        return logits_dx, logits_dy, self.head_pen(h + self.dy_out(dy))

    def forward(
        self, inputs: torch.Tensor, where: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss (`loss`): what DDP wraps, so its gradient hooks see the step."""
        return self.loss(inputs, where, targets, labels)

    def loss(
        self, inputs: torch.Tensor, where: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean negative log-likelihood per point (nats): -log p(dx) - log p(dy|dx) - log p(pen|dx,dy), the
        reconstruction loss L_s + L_p of Ha & Eck 2017 (eq. 9-10) with categorical offsets. Targets
        (B, T, 3), IGNORE on padding; teacher forcing feeds the true dx and dy to the later heads."""
        h = self.hidden(inputs, where, labels)
        dx, dy = targets[..., 0].clamp(min=0), targets[..., 1].clamp(min=0)
        parts = self.heads(h, dx, dy)
        terms = [
            F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), ignore_index=IGNORE)
            for logits, target in zip(parts, targets.unbind(-1))
        ]
        total = terms[0] + terms[1] + terms[2]
        names = ("loss_dx", "loss_dy", "loss_pen")
        return total, {"loss": float(total.detach())} | {n: float(v.detach()) for n, v in zip(names, terms)}


class OnNumpy:
    """A `SketchTransformer` (either head) called on NumPy arrays and answering them, the interface of
    `sketch_numpy.NumpySketchNet`, so one sampling loop serves both (no gradients; float32 answers)."""

    def __init__(self, net: SketchTransformer) -> None:
        self.net = net.eval()
        self.grid_size, self.max_len, self.blocks = net.grid_size, net.max_len, net.blocks
        self.head = "mixture" if hasattr(net, "mixture") else "tokens"

    def _tensors(self, *arrays):
        dev = next(self.net.parameters()).device
        return [None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(dev) for a in arrays]

    @torch.no_grad()
    def mixture(self, h):
        return tuple(t.double().cpu().numpy() for t in self.net.mixture(*self._tensors(h)))

    @torch.no_grad()
    def pen_logits(self, h, x, y):
        h, x, y = self._tensors(h, np.asarray(x, np.float32), np.asarray(y, np.float32))
        return self.net.pen_logits(h, x, y).float().cpu().numpy()

    @torch.no_grad()
    def hidden(self, inputs, where, labels, cache: list | None = None, start: int = 0):
        return self.net.hidden(*self._tensors(inputs, where, labels), cache, start).float().cpu().numpy()

    @torch.no_grad()
    def heads(self, h, dx=None, dy=None):
        out = self.net.heads(*self._tensors(h, dx, dy))
        return tuple(None if o is None else o.float().cpu().numpy() for o in out)
