"""The mnist.npz loader: the official split, validated, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import settings
from doodlelab.data.mnist import load_mnist
from doodlelab.errors import DataError


def test_real_mnist_has_the_official_split():
    if not settings.mnist_path().is_file():
        pytest.skip("mnist.npz not found (set DOODLELAB_DATA)")
    m = load_mnist()
    assert m.x_train.shape == (60000, 28, 28) and m.x_test.shape == (10000, 28, 28)
    assert m.x_train.dtype == np.uint8 and m.y_train.dtype == np.int64
    assert np.bincount(m.y_test).tolist()[:3] == [980, 1135, 1032]  # the official test set's counts


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_bad_files_are_clear_errors(tmp_path):
    x, y = np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8)
    good = _save(tmp_path / "good.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    assert len(load_mnist(good).y_test) == 5
    with pytest.raises(DataError, match="missing array 'y_test'"):
        load_mnist(_save(tmp_path / "a.npz", x_train=x, y_train=y, x_test=x))
    with pytest.raises(DataError, match="shape"):
        load_mnist(_save(tmp_path / "b.npz", x_train=x.reshape(5, 784), y_train=y, x_test=x, y_test=y))
    with pytest.raises(DataError, match="differ in length"):
        load_mnist(_save(tmp_path / "c.npz", x_train=x, y_train=y[:3], x_test=x, y_test=y))
    (tmp_path / "d.npz").write_bytes(good.read_bytes()[:50])
    with pytest.raises(DataError, match="d.npz"):
        load_mnist(tmp_path / "d.npz")
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "missing.npz")


def test_pickled_arrays_are_refused(tmp_path):
    x = np.zeros((5, 28, 28), np.uint8)
    objects = np.array([{"evil": 1}] * 5, dtype=object)
    path = _save(tmp_path / "p.npz", x_train=x, y_train=objects, x_test=x, y_test=objects)
    with pytest.raises(DataError):
        load_mnist(path)
