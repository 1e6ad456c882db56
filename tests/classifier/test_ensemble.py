"""The ensemble classifier: its output is the weighted mixture of the members' calibrated probabilities,
it is one model file and one ONNX graph (float and 8-bit) like a single classifier, bad combinations are
refused in one line."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from doodlelab import modelfile
from doodlelab.classifier import checkpoint, ensemble
from doodlelab.classifier.evaluate import export_beside, finish, finish_ensemble
from doodlelab.classifier.metrics import fit_temperature, softmax
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.cli.main import main
from doodlelab.config import ConfigError
from doodlelab.data import cache
from doodlelab.onnx_export import onnx_card_path
from tests.classifier.conftest import SHAPES, tiny_config


@pytest.fixture(scope="module")
def second_member(shapes_data, tmp_path_factory):
    """Another small model of the four shapes (other widths and seed), calibrated: a second member."""
    from doodlelab.classifier.train import train

    data, cache_root = shapes_data
    run = tmp_path_factory.mktemp("second")
    train(tiny_config(seed=1), run, root=data / "quickdraw", cache_root=cache_root, progress=False)
    finish(run, run / "classifier.safetensors", root=data / "quickdraw", cache_root=cache_root, export=False)
    return run / "classifier.safetensors"


def loaded(*paths):
    """Model files as `ensemble.combine` takes them: (path, network, config, card) each."""
    return [(p, *checkpoint.load_model(p)) for p in paths]


@pytest.fixture(scope="module")
def combined(tiny_model, second_member, shapes_data, tmp_path_factory):
    data, cache_root = shapes_data
    out = tmp_path_factory.mktemp("ensemble") / "classifier.safetensors"
    finish_ensemble([tiny_model, second_member], [0.3, 0.7], out, data / "quickdraw", cache_root)
    return out


def test_the_output_is_the_log_of_the_weighted_mixture_of_calibrated_probabilities(tiny_model, second_member):
    net, config, members = ensemble.combine(loaded(tiny_model, second_member), [0.3, 0.7])
    assert [m["weight"] for m in members] == [0.3, 0.7] and len(config.members) == 2
    x = torch.rand(6, 1, 28, 28)
    singles = [checkpoint.load_model(p) for p in (tiny_model, second_member)]
    with torch.inference_mode():
        out = net(x).numpy()
        expected = sum(
            w * softmax(model(x).numpy(), card["temperature"])
            for w, (model, _, card) in zip((0.3, 0.7), singles)
        )
    np.testing.assert_allclose(np.exp(out), expected, atol=1e-6)
    np.testing.assert_allclose(np.exp(out).sum(1), 1.0, atol=1e-5)
    assert singles[0][2]["temperature"] != singles[1][2]["temperature"]  # each member's own T was used


def test_an_ensemble_file_loads_scores_and_serves_like_one_classifier(combined, shapes_data):
    data, cache_root = shapes_data
    card = modelfile.load_card(combined)
    assert card["format"] == ensemble.FORMAT and "CC BY 4.0" in card["attribution"]
    assert [m["weight"] for m in card["members"]] == [0.3, 0.7] and card["test"]["top1"] > 0.8
    val = cache.load_split_arrays("val", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    log_p = Recognizer(combined, backend="torch").logits(val.images)  # the mixture's log-probabilities
    assert card["temperature"] == pytest.approx(fit_temperature(log_p, val.labels), rel=1e-3)
    assert card["calibration_val"]["ece_after"] <= card["calibration_val"]["ece_before"]
    net, config, _ = checkpoint.load_model(combined)
    assert isinstance(net, ensemble.EnsembleNet) and config.categories == SHAPES
    export_beside(combined)
    onnx_card = json.loads(onnx_card_path(combined.with_suffix(".onnx")).read_text())
    assert onnx_card["format"] == "doodlelab-classifier-onnx/1" and "features" not in onnx_card
    test = cache.load_split_arrays("test", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    fast, reference = Recognizer(combined), Recognizer(combined, backend="torch")
    assert fast.backend == "onnx"
    np.testing.assert_allclose(fast.logits(test.images), reference.logits(test.images), atol=2e-4)
    guesses = fast.classify([test.strokes_of(int(i)) for i in np.flatnonzero(test.drawing >= 0)[:5]])
    assert all(len(g) == 5 and g[0][0] in SHAPES for g in guesses)


def test_the_8_bit_export_of_an_ensemble_agrees_with_its_float_weights(combined, shapes_data, tmp_path):
    from doodlelab.classifier import quantize

    data, cache_root = shapes_data
    train = cache.load_split_arrays("train", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    test = cache.load_split_arrays("test", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    path = quantize.quantize_beside(combined, train.images[:256], tmp_path / "e.int8.onnx")
    report = quantize.measure(path, combined, test.images, test.labels)
    assert report["top1_agreement"] >= 0.95 and report["top1"] >= report["float_top1"] - 0.05
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "QLinearConv" in ops and {"LogSoftmax", "Concat", "ReduceLogSumExp"} <= ops  # the average: float
    assert not ops & {"QLinearMul", "QLinearConcat"}


def test_bad_combinations_are_refused(tiny_model, second_member, combined):
    with pytest.raises(ConfigError, match="sum to 1"):
        ensemble.combine(loaded(tiny_model, second_member), [0.5, 0.6])
    with pytest.raises(ConfigError, match="> 0"):
        ensemble.combine(loaded(tiny_model, second_member), [0.0, 1.0])
    with pytest.raises(ConfigError, match="one weight per member"):
        ensemble.combine(loaded(tiny_model, second_member), [1.0])
    with pytest.raises(modelfile.ModelFileError, match="single classifiers"):
        ensemble.combine(loaded(combined, tiny_model), [0.5, 0.5])


def test_members_of_other_categories_are_refused(tiny_model):
    config = checkpoint.load_model(tiny_model)[1].to_dict()
    other = config | {"categories": ["circle", "line"]}
    with pytest.raises(ConfigError, match="differ"):
        ensemble.EnsembleConfig(
            members=(config, other), weights=(0.5, 0.5), temperatures=(1, 1), categories=SHAPES
        )


def test_a_fine_tune_cannot_start_from_an_ensemble(combined, shapes_data, tmp_path):
    from doodlelab.classifier.train import train

    data, cache_root = shapes_data
    with pytest.raises(checkpoint.CheckpointError, match="ensemble"):
        train(
            tiny_config(init=str(combined)),
            tmp_path,
            root=data / "quickdraw",
            cache_root=cache_root,
            progress=False,
        )


def test_the_cli_refuses_bad_weights_in_one_line(tiny_model, second_member, tmp_path, capsys):
    args = ["train", "ensemble", "--members", str(tiny_model), str(second_member), "--out", str(tmp_path)]
    assert main(args + ["--weights", "0.2", "0.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sum to 1" in err and len(err.splitlines()) == 1
    missing = ["--members", str(tiny_model), str(tmp_path / "nope.safetensors")]
    assert main(args[:2] + missing + ["--weights", "0.5", "0.5", "--out", str(tmp_path)]) == 2
    assert "no such weights file" in capsys.readouterr().err
    assert not (tmp_path / "classifier.safetensors").exists()
