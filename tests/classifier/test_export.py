"""ONNX export: ONNX Runtime and PyTorch agree; the recogniser uses ONNX only for the weights it came from."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.classifier.checkpoint import load_model
from doodlelab.classifier.evaluate import export_beside
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import cache
from tests.classifier.conftest import SHAPES


def test_onnx_runtime_and_pytorch_agree(tiny_model, shapes_data):
    data, cache_root = shapes_data
    test = cache.load_split_arrays("test", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    images = test.images
    onnx, torch_ = Recognizer(tiny_model, backend="onnx"), Recognizer(tiny_model, backend="torch")
    assert (onnx.backend, torch_.backend) == ("onnx", "torch")
    for batch in (images[:1], images[:7], images, np.random.default_rng(0).integers(0, 256, (5, 28, 28))):
        a, b = onnx.logits(batch.astype(np.uint8)), torch_.logits(batch.astype(np.uint8))
        assert a.shape == (len(batch), 345)
        np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-4)
    assert (onnx.probabilities(images).argmax(1) == torch_.probabilities(images).argmax(1)).all()


def test_auto_backend_prefers_a_matching_onnx_and_ignores_a_stale_one(tiny_model, tmp_path):
    assert Recognizer(tiny_model).backend == "onnx"
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(tiny_model.read_bytes())
    modelfile.card_path(copy).write_text(modelfile.card_path(tiny_model).read_text())
    export_beside(copy)
    assert modelfile.load_card(copy)["format"] == "doodlelab-classifier/1"  # the weights' card is intact
    assert Recognizer(copy).backend == "onnx"
    model, config, card = load_model(copy)
    arrays, meta = modelfile.load(copy)
    arrays["head.bias"] = arrays["head.bias"] + 1  # retrained weights: the old .onnx no longer matches
    modelfile.save(copy, arrays, card, meta)
    assert Recognizer(copy).backend == "torch"


def test_corrupt_onnx_file_is_a_clear_error(tiny_model, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(tiny_model.read_bytes())
    modelfile.card_path(bad).write_text(modelfile.card_path(tiny_model).read_text())
    bad.with_suffix(".onnx").write_bytes(b"not an onnx model")
    with pytest.raises(modelfile.ModelFileError, match="cannot load ONNX"):
        Recognizer(bad, backend="onnx")


def test_weights_that_are_not_safetensors_are_refused(tmp_path, tiny_model):
    fake = tmp_path / "pickled.safetensors"
    fake.write_bytes(b"\x80\x04\x95" + b"\0" * 64)  # a pickle header
    modelfile.card_path(fake).write_text(modelfile.card_path(tiny_model).read_text())
    with pytest.raises(modelfile.ModelFileError):
        Recognizer(fake, backend="torch")


def test_float16_export_halves_the_file_and_keeps_the_predictions(tiny_model, shapes_data, tmp_path):
    data, cache_root = shapes_data
    test = cache.load_split_arrays("test", list(SHAPES), root=data / "quickdraw", cache_root=cache_root)
    images = test.images
    half = export_beside(tiny_model, tmp_path / "half.onnx", float16=True)
    full = tiny_model.with_suffix(".onnx")
    assert half.stat().st_size < 0.75 * full.stat().st_size  # the tiny graph's own overhead is most of it
    import onnxruntime as ort

    a = ort.InferenceSession(str(full), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    x = (images.astype(np.float32) / 255)[:, None]
    la, lb = a.run(None, {"images": x})[0], b.run(None, {"images": x})[0]
    assert (la.argmax(1) == lb.argmax(1)).mean() >= 0.99 and np.abs(la - lb).max() < 0.05
