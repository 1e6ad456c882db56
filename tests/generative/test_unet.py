"""The U-Net predicts noise of the input's shape, is conditioned on time and class, and starts at zero."""

from __future__ import annotations

import torch

from doodlelab.generative.unet import UNet, timestep_embedding


def test_timestep_embedding_is_sinusoidal():
    e = timestep_embedding(torch.tensor([0, 10, 999]), 16)
    assert e.shape == (3, 16)
    torch.testing.assert_close(e[0], torch.cat([torch.ones(8), torch.zeros(8)]))
    assert not torch.allclose(e[1], e[2])


def test_shapes_zero_start_and_conditioning():
    torch.manual_seed(0)
    net = UNet(num_classes=5, widths=(8, 16, 16), emb_dim=16, dropout=0.0)
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([1, 500, 1000]), torch.tensor([0, 4, 5])  # 5 = no label
    assert torch.count_nonzero(net(x, t, y)) == 0  # zero-initialised output conv: predicts no noise at first
    for p in net.parameters():  # leave the zero start: every path is now live
        p.data.add_(torch.randn_like(p) * 0.05)
    out = net(x, t, y)
    assert out.shape == (3, 1, 28, 28)
    assert not torch.allclose(out, net(x, t, torch.tensor([1, 4, 5])))  # the label matters
    assert not torch.allclose(out, net(x, t + 7, y))  # the time matters
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
