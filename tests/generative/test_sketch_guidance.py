"""Classifier-free guidance of the stroke model: guided logits, the mixture's density, the guided move drawn
by sampling-importance-resampling, and seeded guided drawings (a tiny model trained on the four shapes)."""

from __future__ import annotations

import numpy as np
import torch

from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_model import OnNumpy, SketchTransformer
from doodlelab.generative.sketch_moves import guided, guided_move, log_mixture
from doodlelab.generative.sketch_sample import load, sample_rows
from tests.classifier.conftest import shapes_data  # noqa: F401
from tests.generative.test_sketch import sketch_run, tiny_sketch  # noqa: F401


def test_guided_logits_are_p_c_to_the_1_plus_w_over_p_none_to_the_w():
    rng = np.random.default_rng(0)
    cond, none = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    p_c = np.exp(cond) / np.exp(cond).sum(1, keepdims=True)
    p_n = np.exp(none) / np.exp(none).sum(1, keepdims=True)
    for w in (0.0, 0.5, 2.0):
        want = p_c ** (1 + w) / p_n**w
        got = np.exp(guided(cond, none, w))
        assert np.allclose(got / got.sum(1, keepdims=True), want / want.sum(1, keepdims=True))
    assert np.allclose(np.exp(guided(cond, none, 0.0)), p_c)  # w = 0: the conditional itself


def test_log_mixture_is_the_bivariate_normal_density():
    mu, sigma, rho = np.array([1.5, -2.0]), np.array([0.7, 2.0]), 0.6
    cov = np.array([[sigma[0] ** 2, rho * sigma[0] * sigma[1]], [rho * sigma[0] * sigma[1], sigma[1] ** 2]])
    points = np.array([[[0.0, 0.0], [1.5, -2.0], [3.0, 1.0]]])
    d = points[0] - mu
    want = -0.5 * np.einsum("ki,ij,kj->k", d, np.linalg.inv(cov), d) - np.log(
        2 * np.pi * np.sqrt(np.linalg.det(cov))
    )
    one = (np.zeros((1, 1)), *(np.full((1, 1), v) for v in (mu[0], mu[1], sigma[0], sigma[1], rho)))
    assert np.allclose(log_mixture(one, points)[0], want)
    two = (np.log(np.full((1, 2), 0.5)), *(np.concatenate([a, a], 1) for a in one[1:]))  # two equal halves
    assert np.allclose(log_mixture(two, points)[0], want)


def gaussian(x: float, n: int) -> tuple[np.ndarray, ...]:
    """n rows of a one-component mixture at (x, 0), standard deviations 1.5, uncorrelated."""
    return (
        np.zeros((n, 1)),
        np.full((n, 1), x),
        np.zeros((n, 1)),
        *(np.full((n, 1), v) for v in (1.5, 1.5, 0.0)),
    )


def test_guided_move_pushes_away_from_no_category():
    """Equal Gaussians at 3 (category) and 0 (none): p_c^(1+w) / p_none^w is the Gaussian at 3 + 3w."""
    n, args = 4000, (np.zeros((4000, 2), np.int64), np.full(4000, sd.PEN_DOWN), (-100, 100), 1.0, 1.0)
    plain = guided_move(gaussian(3, n), gaussian(0, n), 0.0, *args, np.random.default_rng(0))
    pushed = guided_move(gaussian(3, n), gaussian(0, n), 1.0, *args, np.random.default_rng(0))
    assert abs(plain[:, 0].mean() - 3) < 0.15 and abs(plain[:, 1].mean()) < 0.15
    assert 5.0 < pushed[:, 0].mean() < 6.5 and abs(pushed[:, 1].mean()) < 0.15  # 16 candidates: near 6
    assert not (plain == 0).all(axis=1).any()  # never a zero move with the pen down


def test_guided_tokens_stay_in_bounds_and_repeat_per_seed():
    torch.manual_seed(0)
    model = SketchTransformer(tiny_sketch(), n_classes=4).eval()
    with torch.no_grad():
        model.head_pen.bias[sd.PEN_END] = -6.0  # long drawings
    runs = [
        sample_rows(
            OnNumpy(model),
            1,
            np.zeros((0, 3), np.int64),
            3,
            np.random.default_rng(s),
            1.0,
            1.0,
            30,
            (0, 32),
            guidance=2.0,
            none=4,
        )
        for s in (7, 7, 8)
    ]
    assert [r.tolist() for r in runs[0]] == [r.tolist() for r in runs[1]] != [r.tolist() for r in runs[2]]
    for rows in runs[0]:
        where = np.cumsum(rows[:, :2], axis=0)
        assert where.min() >= 0 and where.max() <= 32 and rows[-1, 2] == sd.PEN_END


def test_guidance_changes_conditional_drawings_only(sketch_run):  # noqa: F811
    sketcher = load(sketch_run[0] / "sketch.safetensors")
    as_lists = lambda ds: [[s.tolist() for s in d] for d in ds]  # noqa: E731
    assert sketcher.config.guidance == 2.0  # the default, recorded in the card's config
    guided_ = as_lists(sketcher.generate("circle", 4, seed=3))
    assert guided_ == as_lists(sketcher.generate("circle", 4, seed=3, guidance=2.0))
    assert guided_ != as_lists(sketcher.generate("circle", 4, seed=3, guidance=0.0))
    # "no category" has nothing to be guided toward: the same strokes at any w
    assert as_lists(sketcher.generate(None, 4, seed=3, guidance=0.0)) == as_lists(
        sketcher.generate(None, 4, seed=3, guidance=5.0)
    )
    prefix = [np.array([[10.0, 10], [200, 30]])]
    done = sketcher.complete(prefix, False, "square", 2, 0, guidance=3.0)
    assert len(done) == 2 and all(np.concatenate(d).max() <= 255 for d in done)


def test_guided_mixture_draws_the_same_in_numpy_and_pytorch_and_obeys_the_rules():
    from doodlelab.generative.sketch_numpy import NumpySketchNet
    from tests.generative.test_sketch_mdn import random_mixture_network

    net, config = random_mixture_network()
    numpy_net = NumpySketchNet({k: v.numpy() for k, v in net.state_dict().items()}, config, 4)
    nothing = np.zeros((0, 3), np.int64)

    def rows(model, guidance: float) -> list[np.ndarray]:
        rng = np.random.default_rng(3)
        return sample_rows(model, 1, nothing, 6, rng, 0.7, 0.95, 24, (0, 32), guidance=guidance, none=4)

    guided_numpy, guided_torch, plain = rows(numpy_net, 2.0), rows(OnNumpy(net), 2.0), rows(numpy_net, 0.0)
    assert all(np.array_equal(p, q) for p, q in zip(guided_numpy, guided_torch))
    assert not all(len(p) == len(q) and np.array_equal(p, q) for p, q in zip(guided_numpy, plain))
    for r in guided_numpy:
        assert r[-1, 2] == sd.PEN_END and (r[:-1, 2] != sd.PEN_END).all()
        where = sd.positions(r)
        assert where.min() >= 0 and where.max() <= config.grid_size
        down = np.concatenate([[False], r[:-1, 2] == sd.PEN_DOWN])
        assert not ((r[:, :2] == 0).all(1) & down).any()


def test_each_drawing_is_handed_out_as_soon_as_it_is_finished(sketch_run):  # noqa: F811
    sketcher = load(sketch_run[0] / "sketch.safetensors")
    handed: list[tuple[int, list]] = []
    drawings = sketcher.generate("circle", 6, seed=2, on_drawing=lambda i, d: handed.append((i, d)))
    assert sorted(i for i, _ in handed) == list(range(6))  # each once
    for i, drawing in handed:
        assert [s.tolist() for s in drawing] == [s.tolist() for s in drawings[i]]


def test_a_model_without_no_category_is_not_guided(sketch_run):  # noqa: F811
    import pytest

    from doodlelab.errors import DataError

    trained = load(sketch_run[0] / "sketch.safetensors")
    sketcher = type(trained)(trained.model, tiny_sketch(p_uncond=0.0), trained.classes, trained.path)
    assert sketcher.sampling(None, None)[2] == 0.0  # its default: no guidance
    with pytest.raises(DataError, match="never learned 'no category'"):
        sketcher.generate("circle", 2, seed=0, guidance=1.0)
