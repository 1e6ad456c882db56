"""The mixture-density head of the stroke model (the design the shipped categorical head was compared with):
its density against torch.distributions, learning on a tiny overfit, and seeded sampling inside the box."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import distributions as D

from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_mdn import COMPONENTS, MdnSketchTransformer, sample
from tests.generative.test_sketch import tiny_sketch


def tiny_batch(n: int = 4, points: int = 8) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    rows = [sd.encode(sd.to_grid([rng.uniform(0, 255, (points, 2))], 32)) for _ in range(n)]
    return {k: torch.from_numpy(v) for k, v in sd.batch(rows, np.arange(n) % 3, 32).items()}


def test_offset_density_is_the_mixture_of_correlated_gaussians():
    torch.manual_seed(0)
    model = MdnSketchTransformer(tiny_sketch(), n_classes=4)
    h = torch.randn(5, 16)
    x, y = torch.randn(5) * 4, torch.randn(5) * 4
    log_w, mx, my, sx, sy, rho = model.mixture(h)
    assert log_w.shape == (5, COMPONENTS) and bool((sx > 0).all()) and bool((rho.abs() < 1).all())
    cov = torch.stack(
        [torch.stack([sx**2, rho * sx * sy], -1), torch.stack([rho * sx * sy, sy**2], -1)], -2
    ).double()
    mixture = D.MixtureSameFamily(
        D.Categorical(logits=log_w.double()),
        D.MultivariateNormal(torch.stack([mx, my], -1).double(), covariance_matrix=cov),
    )
    expected = mixture.log_prob(torch.stack([x, y], -1).double())
    got = model.offset_log_density(h, x, y)
    assert torch.allclose(got.double(), expected, atol=1e-4), (got, expected)


def test_loss_falls_on_a_tiny_overfit_and_parts_add_up():
    torch.manual_seed(0)
    model = MdnSketchTransformer(tiny_sketch(dropout=0.0), n_classes=4)
    b = tiny_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first, _ = model.loss(**b)
    for _ in range(30):
        loss, logged = model.loss(**b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logged["loss"] < float(first.detach()) / 3  # nats per point: about 27 -> 5.5
    assert logged["loss"] == pytest.approx(logged["loss_offset"] + logged["loss_pen"], rel=1e-5)


def test_sampling_is_seeded_stays_in_the_box_and_ends():
    torch.manual_seed(0)
    config = tiny_sketch(max_len=24)
    model = MdnSketchTransformer(config, n_classes=4)
    a = sample(model, 1, 6, seed=3, temperature=0.7, max_len=config.max_len)
    b = sample(model, 1, 6, seed=3, temperature=0.7, max_len=config.max_len)
    c = sample(model, 1, 6, seed=4, temperature=0.7, max_len=config.max_len)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(len(p) == len(q) and np.array_equal(p, q) for p, q in zip(a, c))
    for rows in a:
        assert rows[-1, 2] == sd.PEN_END and (rows[:-1, 2] != sd.PEN_END).all() and len(rows) >= 2
        where = sd.positions(rows)
        assert where.min() >= 0 and where.max() <= config.grid_size  # inside the box
        down = np.concatenate([[False], rows[:-1, 2] == sd.PEN_DOWN])  # the pen was down before the move
        assert not ((rows[:, :2] == 0).all(1) & down).any()  # no zero move within a stroke
