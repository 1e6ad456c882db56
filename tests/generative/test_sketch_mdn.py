"""The stroke model's mixture-density head (`--head mixture`): its density against torch.distributions,
learning on a tiny overfit, the NumPy network against PyTorch's, and seeded sampling inside the bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import distributions as D

from doodlelab import modelfile
from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import COMPONENTS
from doodlelab.generative.sketch_mdn import MdnSketchTransformer, network
from doodlelab.generative.sketch_model import OnNumpy
from doodlelab.generative.sketch_numpy import NumpySketchNet
from doodlelab.generative.sketch_sample import Sketcher, sample_rows
from tests.classifier.conftest import shapes_data  # noqa: F401
from tests.generative.test_sketch import SHAPES, tiny_sketch


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


def random_mixture_network(**changes) -> tuple[MdnSketchTransformer, object]:
    """(network, config): `network` builds the mixture head from the config; weights of std 0.1."""
    config = tiny_sketch(head="mixture", width=32, heads=4, layers=2, max_len=24, **changes)
    torch.manual_seed(0)
    net = network(config, n_classes=4).eval()
    assert isinstance(net, MdnSketchTransformer)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net, config


def test_numpy_mixture_head_computes_what_the_pytorch_one_does():
    net, config = random_mixture_network()
    mine = NumpySketchNet({k: v.numpy() for k, v in net.state_dict().items()}, config, 4)
    theirs = OnNumpy(net)
    assert mine.head == theirs.head == "mixture"
    h = np.random.default_rng(0).normal(size=(5, 7, 32)).astype(np.float32)
    for a, b in zip(mine.mixture(h), theirs.mixture(h)):
        assert a.shape == (5, 7, COMPONENTS)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
    x, y = np.arange(-3, 4, dtype=np.float32)[None].repeat(5, 0), np.ones((5, 7), np.float32)
    np.testing.assert_allclose(mine.pen_logits(h, x, y), theirs.pen_logits(h, x, y), atol=2e-5)


def test_sampling_is_seeded_stays_in_the_box_and_ends():
    net, config = random_mixture_network()
    classes = list(SHAPES)[:4]
    numpy_net = NumpySketchNet({k: v.numpy() for k, v in net.state_dict().items()}, config, 4)
    sketchers = [Sketcher(m, config, classes, None) for m in (numpy_net, OnNumpy(net))]
    nothing = np.zeros((0, 3), np.int64)
    rows = [
        sample_rows(s.model, 1, nothing, 6, np.random.default_rng(seed), 0.7, 0.95, 24, (0, 32))
        for s in sketchers
        for seed in (3, 3, 4)
    ]
    a, b, c, torch_a = rows[0], rows[1], rows[2], rows[3]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert all(np.array_equal(p, q) for p, q in zip(a, torch_a))  # NumPy draws what PyTorch draws
    assert not all(len(p) == len(q) and np.array_equal(p, q) for p, q in zip(a, c))
    for r in a:
        assert r[-1, 2] == sd.PEN_END and (r[:-1, 2] != sd.PEN_END).all() and len(r) >= 2
        where = sd.positions(r)
        assert where.min() >= 0 and where.max() <= config.grid_size  # inside the box
        down = np.concatenate([[False], r[:-1, 2] == sd.PEN_DOWN])  # the pen was down before the move
        assert not ((r[:, :2] == 0).all(1) & down).any()  # no zero move within a stroke
    drawn = sketchers[0].generate("circle", 3, seed=1)
    assert all(0 <= s.min() and s.max() <= 255 for d in drawn for s in d)  # the simplified schema


def test_doodlelab_train_sketch_head_mixture_trains_resumes_and_draws(shapes_data, tmp_path):  # noqa: F811
    from doodlelab.generative.sketch_sample import load
    from doodlelab.generative.sketch_train import train

    data, cache = shapes_data
    config, root = tiny_sketch(head="mixture"), data / "quickdraw"
    straight, paused = tmp_path / "straight", tmp_path / "paused"
    train(config, straight, root=root, cache_root=cache, progress=False)
    train(config, paused, root=root, cache_root=cache, progress=False, until_step=3)
    train(config, paused, root=root, cache_root=cache, progress=False)
    a, b = (modelfile.load(p / "sketch.safetensors")[0] for p in (straight, paused))
    assert "head_mix.weight" in a and "head_dx.weight" not in a
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    history = json.loads((straight / "sketch.json").read_text())["history"]
    assert len(history["val_loss"]) == 2 and np.isfinite(history["val_loss"]).all()
    sketcher = load(straight / "sketch.safetensors")
    assert isinstance(sketcher.model, NumpySketchNet) and sketcher.model.head == "mixture"
    raw = [np.array([[-900.5, 40.0], [-500.0, 40.0], [-500.0, 300.25]])]  # canvas floats, negative
    for new in sketcher.complete(raw, True, "circle", 3, seed=2):
        points = np.concatenate(new)
        assert points.min() >= -900.5 - 200 and points.max() <= 300.25 + 200  # about the prefix's box
