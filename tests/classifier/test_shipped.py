"""The shipped classifier (one prefix-trained ResNet distilled from an average of two): a complete card, ONNX
beside it, and (with the data) the card's accuracy holds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.classifier import quantize
from doodlelab.classifier.evaluate import to_raw
from doodlelab.classifier.export import onnx_card_path
from doodlelab.classifier.metrics import top_k_accuracy
from doodlelab.classifier.recognizer import SHIPPED, Recognizer
from doodlelab.data import cache, strokes
from doodlelab.data.categories import categories
from doodlelab.generative.evaluate import JUDGE


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()  # what serving uses: the 8-bit export


@pytest.fixture(scope="module")
def float_recognizer():
    return Recognizer(backend="onnx")  # what the card's figures were measured with


def test_card_describes_classes_config_metrics_and_provenance(recognizer):
    card = modelfile.load_card(SHIPPED)
    assert card["classes"] == list(categories()) and len(card["classes"]) == 345
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert card["format"] == "doodlelab-classifier/1"  # one network, trained on prefixes, distilled
    assert card["config"]["arch"] == "resnet" and card["config"]["prefix"] > 0
    assert card["config"]["teacher"] and 0 < card["config"]["distill"] <= 1
    assert {"init", "teacher", "recipe"} <= set(card["lineage"])  # where its start and its teacher came from
    judge = modelfile.load_card(JUDGE)  # the classifier it replaced: finished drawings lose at most 0.5
    assert card["test"]["n"] == judge["test"]["n"] and card["test"]["top1"] >= judge["test"]["top1"] - 0.005
    assert card["temperature"] > 0
    assert card["test"]["ece"] < card["test"]["ece_uncalibrated"]
    assert abs(card["test"]["strokes_only"]["difference"]) <= 0.01
    assert recognizer.backend == "int8"  # the shipped exports were made from these weights


def test_the_int8_export_is_as_accurate_as_the_float_weights_by_its_card():
    card = json.loads(onnx_card_path(quantize.int8_path(SHIPPED)).read_text())
    assert card["onnx_weights"] == "int8" and card["classes"] == list(categories())
    test = card["test"]
    assert test["n"] == modelfile.load_card(SHIPPED)["test"]["n"]
    assert abs(test["top1"] - test["float_top1"]) <= 0.005 and test["top1_agreement"] >= 0.98


def test_shipped_accuracy_matches_its_card_on_real_test_drawings(
    recognizer, float_recognizer, quickdraw_root
):
    names = categories()[::12]  # 29 categories, so a fresh machine renders only a few
    test = cache.load_split_arrays("test", names, root=quickdraw_root)
    accuracy = top_k_accuracy(float_recognizer.probabilities(test.images), test.labels, 1)
    served = top_k_accuracy(recognizer.probabilities(test.images), test.labels, 1)
    assert served == pytest.approx(accuracy, abs=0.01)  # the 8-bit model, on the same drawings
    per_category = modelfile.load_card(SHIPPED)["test"]["per_category"]
    expected = sum(per_category[c]["accuracy"] * per_category[c]["n"] for c in names) / len(test.labels)
    assert len(test.labels) == sum(per_category[c]["n"] for c in names)
    assert accuracy == pytest.approx(expected, abs=0.005)  # same drawings, same pipeline, same weights


def test_a_canvas_drawing_is_recognized_like_its_simplified_form(recognizer, quickdraw_root):
    test = cache.load_split_arrays("test", ["cat", "bicycle", "house"], root=quickdraw_root)
    rng = np.random.default_rng(1)
    index = np.flatnonzero(test.drawing >= 0)[:60]
    simplified = recognizer.probabilities(test.images[index]).argmax(1)
    raw = np.stack([strokes.rasterize(to_raw(test.strokes_of(int(i)), rng)[0], raw=True) for i in index])
    assert (recognizer.probabilities(raw).argmax(1) == simplified).mean() > 0.9
