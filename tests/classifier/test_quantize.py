"""The 8-bit export: written with its card, chosen by `auto` only while it matches, predicting like the
float weights; a tampered one is refused when the server starts."""

from __future__ import annotations

import json
import shutil

import pytest

from doodlelab import modelfile
from doodlelab.classifier import quantize
from doodlelab.classifier.export import onnx_card_path, sha256
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import cache
from tests.classifier.conftest import SHAPES


@pytest.fixture(scope="module")
def shapes_test(shapes_data):
    data, cache_root = shapes_data
    return cache.load_split_arrays("test", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)


@pytest.fixture(scope="module")
def quantized(tiny_model, shapes_data, tmp_path_factory):
    """A copy of the tiny model with its 8-bit export beside it (calibrated on its training shapes)."""
    data, cache_root = shapes_data
    folder = tmp_path_factory.mktemp("int8")
    for path in tiny_model.parent.glob(tiny_model.stem + ".*"):
        shutil.copy(path, folder / path.name)
    weights = folder / tiny_model.name
    train = cache.load_split_arrays("train", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    out = quantize.quantize_beside(weights, train.images[:256])
    return weights, out


def test_the_export_sits_beside_the_weights_with_a_card_of_both_hashes(quantized):
    weights, out = quantized
    assert out == weights.with_suffix(".int8.onnx") == quantize.int8_path(weights)
    card = json.loads(onnx_card_path(out).read_text())
    assert card["onnx_weights"] == "int8" and card["quantization"]["calibration_images"] == 256
    assert card["onnx_sha256"] == sha256(out) and card["weights_sha256"] == sha256(weights)
    assert card["classes"] == modelfile.load_card(weights)["classes"]
    assert out.stat().st_size < weights.with_suffix(".onnx").stat().st_size


def test_auto_prefers_the_matching_int8_export_and_predicts_like_the_float_weights(quantized, shapes_test):
    weights, out = quantized
    fast, reference = Recognizer(weights), Recognizer(weights, backend="torch")
    assert fast.backend == "int8"
    images = shapes_test.images
    agree = (fast.logits(images).argmax(1) == reference.logits(images).argmax(1)).mean()
    # a tiny 4-shape network (the shipped one agrees on 98.3%, its card); int8 kernels differ by CPU (AVX2,
    # AVX-512 VNNI, AMX): 5 of the 80 shapes changed their answer on an Intel AMX host
    assert agree >= 0.925
    report = quantize.measure(out, weights, images, shapes_test.labels)
    assert report["n"] == len(images) and report["top1_agreement"] == pytest.approx(agree)
    # 6 of the 80 test shapes at most, as the agreement allows (one changed answer is 1.25 points)
    assert abs(report["top1"] - report["float_top1"]) <= 0.075


def test_a_stale_int8_export_is_passed_over(quantized, tmp_path):
    weights, out = quantized
    for path in weights.parent.glob(weights.stem + ".*"):
        shutil.copy(path, tmp_path / path.name)
    copy = tmp_path / weights.name
    stale = copy.with_suffix(".int8.onnx")
    stale.write_bytes(stale.read_bytes()[:-1] + b"\0")  # contents no longer what its card records
    assert Recognizer(copy).backend == "onnx"


def test_a_tampered_int8_export_is_refused_at_startup(quantized, tmp_path):
    from doodlelab.modelfile import ModelFileError
    from doodlelab.web.app import create_app
    from tests.web.test_api import damage, start_up

    weights, _ = quantized
    for path in weights.parent.glob(weights.stem + ".*"):
        shutil.copy(path, tmp_path / path.name)
    copy = tmp_path / weights.name
    damage(copy.with_suffix(".int8.onnx"), "tampered")
    with pytest.raises(ModelFileError, match="differ from the sha256"):
        start_up(create_app(classifier_weights=copy, workers=0))
