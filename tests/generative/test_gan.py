"""The conditional GAN: shapes, spectral norm and projection in D, seeds, resumable training."""

from __future__ import annotations

import numpy as np
import torch

from doodlelab import modelfile
from doodlelab.generative import gan
from doodlelab.generative.generator import DoodleGenerator
from tests.generative.conftest import tiny_gan


def test_shapes_and_conditioning():
    torch.manual_seed(0)
    g, d = gan.Generator(5, z_dim=8, width=16), gan.Discriminator(5, width=8)
    z, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 4])
    x = g(z, y)
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
    assert d(x, y).shape == (4,)
    assert not torch.allclose(d(x, y), d(x, torch.tensor([1, 1, 1, 1])))  # projection on the label
    joined = gan.Generator(5, z_dim=8, width=16, embed_dim=4).eval()  # the label also joins z at the input
    assert not torch.allclose(joined(z, y), joined(z, torch.tensor([1, 1, 1, 1])))
    for bn in (g.bn0, g.bn1, g.bn2):  # class embeddings start as the identity (gamma 1, beta 0) for all
        bn.embed.weight.data.add_(torch.randn_like(bn.embed.weight) * 0.1)
    g.eval()
    assert not torch.allclose(g(z, y), g(z, torch.tensor([1, 1, 1, 1])))  # conditional batch norm


def test_discriminator_layers_are_spectrally_normalised():
    torch.manual_seed(0)
    d = gan.Discriminator(5, width=8)
    for _ in range(30):  # the power iteration converges as the network runs
        d(torch.randn(2, 1, 28, 28), torch.tensor([0, 1]))
    d.eval()
    for conv in d.convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1) < 0.05


def test_training_and_resume(shapes_data, tmp_path, gan_file):
    card = modelfile.load_card(gan_file)
    assert card["kind"] == "gan" and card["steps_trained"] == 6
    assert {"loss_d", "loss_g", "aux_real", "aux_fake", "pair_gap"} <= set(card["history"])
    assert (gan_file.parent / "curves.png").is_file() and (gan_file.parent / "samples_000006.png").is_file()
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    gan.train(tiny_gan(), tmp_path, until_step=3, **kw)
    gan.train(tiny_gan(), tmp_path, **kw)
    a, _ = modelfile.load(gan_file)
    b, _ = modelfile.load(tmp_path / "gan.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_seeds_differ_and_repeat(gan_file):
    gen = DoodleGenerator(gan_file)
    a = gen("square", n=4, seed=1)
    assert a.shape == (4, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, gen("square", n=4, seed=1))
    assert not np.array_equal(a, gen("square", n=4, seed=2))
    assert len({img.tobytes() for img in a}) == 4  # four different drawings in one call
