"""The Fréchet distance against a direct computation, the variety measure, and the balanced real sample."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from doodlelab.generative import evaluate
from doodlelab.generative.evaluate import balanced_sample, frechet_distance


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 1.0
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(a, a + 2.0) == pytest.approx(6 * 4.0, rel=1e-6)  # only the means differ


def test_balanced_sample_takes_up_to_n_per_label():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = balanced_sample(labels, 5, [0, 1, 2], seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]
    assert np.array_equal(idx, balanced_sample(labels, 5, [0, 1, 2], seed=0))


def test_nearest_neighbour_distance_against_a_loop():
    f = np.random.default_rng(1).normal(size=(9, 4))
    nearest = [min(np.linalg.norm(f[i] - f[j]) for j in range(9) if j != i) for i in range(9)]
    assert evaluate.nearest_neighbour_distance(f) == pytest.approx(np.median(nearest))


def test_variety_is_near_one_for_the_same_distribution_and_flags_a_collapsed_majority():
    rng = np.random.default_rng(2)
    real, same = rng.normal(size=(32, 8)), rng.normal(size=(16, 8))
    one = np.repeat(rng.normal(size=(1, 8)), 12, 0) + 0.01 * rng.normal(size=(12, 8))
    collapsed = np.concatenate([one, rng.normal(size=(4, 8)) * 5])  # 3/4 one drawing, 4 far-off outliers
    fake_y = real_y = np.repeat([0, 1], 16)  # as many samples as real drawings per category
    fake = np.concatenate([same, collapsed])
    out = evaluate.variety(fake, fake_y, real, real_y, [0, 1], ["same", "collapsed"])
    assert out["same"] == pytest.approx(1.0, abs=0.3)
    assert out["collapsed"] < 0.05
    # The mean pairwise distance, by contrast, is inflated by the outliers and would not flag it.
    pairwise = np.sqrt(((collapsed[:, None] - collapsed[None]) ** 2).sum(-1)).mean()
    assert pairwise > np.sqrt(((real[16:, None] - real[None, 16:]) ** 2).sum(-1)).mean()


def test_the_onnx_judge_agrees_with_the_torch_judge_on_real_drawings(quickdraw_root):
    """Without PyTorch the yardstick runs the judge's float ONNX export (logits and features outputs):
    on real test drawings it names the same categories and measures the same Fréchet distance."""
    pytest.importorskip("torch")
    from doodlelab.data import cache

    x, y = cache.load_split("test", ["cat", "dog", "bicycle", "apple", "car", "fish"], 28)
    assert len(x) > 100
    judges = [evaluate.Judge(backend="torch"), evaluate.Judge(backend="onnx")]
    (p_torch, f_torch), (p_onnx, f_onnx) = (judge.run(x) for judge in judges)
    assert f_torch.shape == f_onnx.shape == (len(x), judges[0].feature_dim)
    assert (p_torch == p_onnx).mean() >= 0.995  # float16 weights in the export: a rare flip at a tie
    half = len(x) // 2
    fd_torch = frechet_distance(f_torch[:half], f_torch[half:])
    fd_onnx = frechet_distance(f_onnx[:half], f_onnx[half:])
    assert abs(fd_onnx - fd_torch) <= 0.01 * fd_torch, (fd_torch, fd_onnx)


def test_a_judge_without_a_features_export_says_how_to_make_one(tmp_path):
    import shutil

    from doodlelab.errors import DoodleError

    weights = tmp_path / "classifier.safetensors"
    shutil.copy(evaluate.JUDGE, weights)
    with pytest.raises(DoodleError, match="doodlelab export onnx --weights"):
        evaluate.Judge(weights, backend="onnx")  # no export beside the weights
    shutil.copy(evaluate.JUDGE.with_suffix(".onnx"), tmp_path / "classifier.onnx")
    shutil.copy(evaluate.JUDGE.with_suffix(".onnx.json"), tmp_path / "classifier.onnx.json")
    assert evaluate.Judge(weights, backend="onnx").feature_dim == 256  # the judge's export fits the copy
    weights.write_bytes(weights.read_bytes()[:-1] + b" ")  # other weights: the export is stale
    with pytest.raises(DoodleError, match="doodlelab export onnx --weights"):
        evaluate.Judge(weights, backend="onnx")


def test_the_judge_is_the_classifier_every_shipped_generator_was_measured_with():
    """The yardstick is frozen (doodlelab/weights/judge.*): each generator card's figure of the classifier
    on real test drawings is the judge card's test top-1, whatever classifier the server now ships."""
    from doodlelab import modelfile

    judge = modelfile.load_card(evaluate.JUDGE)
    assert judge["format"] == "doodlelab-classifier/1" and judge["test"]["top1"] == pytest.approx(0.7121)
    for name in ("diffusion", "gan"):
        card = modelfile.load_card(evaluate.JUDGE.with_name(f"{name}.safetensors"))
        real = card["evaluation"]["classifier_accuracy_real_test"]
        assert real == pytest.approx(judge["test"]["top1"], abs=5e-4), name
    assert evaluate.Judge().path == evaluate.JUDGE
