"""Networks for 28x28 doodles: a compact ResNet (doodlelab's model) and the Sketcher recipe (baseline).

Both take (B, 1, S, S) float images in [0, 1] (1 = ink) and return (B, n_classes) logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from doodlelab.classifier.config import ARCHS, ClassifierConfig
from doodlelab.data.categories import categories


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut (He et al. 2016). (B, cin, H, W) -> (B, cout, H/s, W/s)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class DoodleNet(nn.Module):
    """Compact ResNet: a 3x3 stem, one stage per width (each after the first halves the resolution),
    global average pooling, dropout and a linear head. The penultimate features are `features(x)`."""

    def __init__(
        self,
        n_classes: int,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (1, 1, 1, 1),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        layers, cin = [], widths[0]
        for stage, (width, depth) in enumerate(zip(widths, blocks)):
            for j in range(depth):
                layers.append(BasicBlock(cin, width, 2 if stage > 0 and j == 0 else 1))
                cin = width
        self.stages = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, n_classes)
        self.feature_dim = cin

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, feature_dim) pooled penultimate features."""
        return self.stages(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, n_classes) logits."""
        return self.head(self.dropout(self.features(x)))


class SketcherNet(nn.Module):
    """The TF.js Sketcher demo's model: conv 16/32/64 (3x3, ReLU, 2x2 max-pool each), dense 128."""

    def __init__(self, n_classes: int, size: int = 28, dropout: float = 0.2) -> None:
        super().__init__()
        convs, cin = [], 1
        for width in (16, 32, 64):
            convs += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = width
        self.convs = nn.Sequential(*convs)
        side = size // 8
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(128, n_classes)
        self.feature_dim = 128

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, 128)."""
        return self.dense(self.convs(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, n_classes) logits."""
        return self.head(self.dropout(self.features(x)))


def build(
    arch: str,
    n_classes: int,
    size: int = 28,
    widths: Sequence[int] = (32, 64, 128, 256),
    blocks: Sequence[int] = (1, 1, 1, 1),
    dropout: float = 0.2,
) -> nn.Module:
    """The network named by `arch` (see ARCHS)."""
    if arch == "resnet":
        return DoodleNet(n_classes, widths, blocks, dropout)
    if arch == "sketcher":
        return SketcherNet(n_classes, size, dropout)
    raise ValueError(f"unknown architecture {arch!r} (choose from {', '.join(ARCHS)})")


def new_model(config: ClassifierConfig) -> nn.Module:
    """The network of a run's `config`, with one output per Quick, Draw! category (untrained)."""
    return build(config.arch, len(categories()), config.size, config.widths, config.blocks, config.dropout)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """(B, S, S) uint8 bitmaps (0 background, 255 ink) -> (B, 1, S, S) float in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)
