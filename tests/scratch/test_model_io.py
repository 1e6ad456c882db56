"""Weights round-trip through .npz (no pickle) with a JSON card; bad files give clear DataErrors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab.errors import DataError
from doodlelab.scratch.layers import Linear, mlp
from doodlelab.scratch.model_io import FORMAT, card_path, load_model, save_model


def test_round_trip_gives_identical_outputs(tmp_path):
    net = mlp((784, 20, 12, 10), dropout=0.3, rng=np.random.default_rng(0))
    for p in net.params():
        p.value += np.float32(0.1)  # non-zero biases too
    path = save_model(tmp_path / "net.npz", net, {"classes": list("0123456789"), "metrics": {"acc": 0.5}})
    loaded, card = load_model(path)
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), net.eval().forward(x))
    assert card["format"] == FORMAT and card["sizes"] == [784, 20, 12, 10] and card["metrics"]["acc"] == 0.5
    assert json.loads(card_path(path).read_text())["classes"][3] == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.npz"]  # no temporary files left


def test_float16_weights_are_half_the_size_and_close(tmp_path):
    net = mlp((784, 64, 10), rng=np.random.default_rng(0))
    small = save_model(tmp_path / "small.npz", net, dtype="float16")
    big = save_model(tmp_path / "big.npz", net)
    assert small.stat().st_size < 0.6 * big.stat().st_size
    loaded, card = load_model(small)
    assert card["dtype"] == "float16" and loaded.params()[0].value.dtype == np.float32
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    np.testing.assert_allclose(loaded.forward(x), net.forward(x), atol=1e-2)


def test_card_is_optional(tmp_path):
    path = save_model(tmp_path / "net.npz", mlp((4, 3), rng=np.random.default_rng(0)))
    card_path(path).unlink()
    model, card = load_model(path)
    assert card == {} and isinstance(model.layers[0], Linear)


def bad_file(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({}, "sizes"),
        ({"sizes": np.array([4.0, 3.0])}, "sizes"),
        ({"sizes": np.array([4, 3])}, "W0"),
        ({"sizes": np.array([4, 3]), "W0": np.zeros((3, 4)), "b0": np.zeros(3)}, "W0"),
        ({"sizes": np.array([4, 3]), "W0": np.full((4, 3), np.nan), "b0": np.zeros(3)}, "NaN"),
        ({"sizes": np.array([4, 3]), "W0": np.zeros((4, 3)), "b0": np.array(["a", "b", "c"])}, "b0"),
    ],
)
def test_malformed_weights_raise_data_error(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_model(bad_file(tmp_path, **arrays))


def test_pickles_missing_files_and_non_npz_are_refused(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, sizes=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(DataError, match="not a readable"):
        load_model(pickled)  # allow_pickle=False: an object array is never unpickled
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match="not a readable"):
        load_model(tmp_path / "text.npz")
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "missing.npz")
    path = save_model(tmp_path / "net.npz", mlp((4, 3)))
    card_path(path).write_text("[1, 2")
    with pytest.raises(DataError, match="JSON"):
        load_model(path)


def test_bad_dtype_is_refused(tmp_path):
    with pytest.raises(ValueError):
        save_model(tmp_path / "x.npz", mlp((4, 3)), dtype="int8")
