"""Networks: shapes of logits and features, and the Sketcher recipe's layer sizes."""

from __future__ import annotations

import pytest
import torch

from doodlelab.classifier.model import DoodleNet, SketcherNet, build, to_input


@pytest.mark.parametrize("arch", ["resnet", "sketcher"])
def test_logits_and_features_have_the_documented_shapes(arch):
    torch.manual_seed(0)
    net = build(arch, 345).eval()
    x = to_input(torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8))
    assert x.shape == (3, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert net(x).shape == (3, 345)
    assert net.features(x).shape == (3, net.feature_dim)


def test_sketcher_is_the_demo_architecture():
    net = SketcherNet(345)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64]
    assert net.dense[1].out_features == 128


def test_resnet_stages_halve_the_resolution():
    net = DoodleNet(10, widths=(8, 16, 32), blocks=(1, 2, 1))
    out = net.stages(net.stem(torch.zeros(1, 1, 28, 28)))
    assert out.shape == (1, 32, 7, 7)


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("vit", 345)
