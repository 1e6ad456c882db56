"""`doodlelab train mlp`, `evaluate mlp` and `predict --model digits`, run in-process through main()."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from doodlelab.cli.main import main
from doodlelab.data.mnist import load_mnist

from .conftest import needs_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def write_digit(mnist, index: int, path, dark_on_light: bool, size=(200, 150)):
    """MNIST test image `index`, stretched to `size`, saved as a user might: returns its label."""
    image = mnist.x_test[index]
    image = 255 - image if dark_on_light else image
    Image.fromarray(image).resize(size, Image.Resampling.BICUBIC).convert("RGB").save(path)
    return str(mnist.y_test[index])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@needs_mnist
def test_predict_digits_in_both_polarities(mnist, tmp_path, capsys):
    paths, labels = [], []
    for i in range(4):
        for dark in (True, False):
            path = tmp_path / f"digit{i}-{'dark' if dark else 'light'}.{'png' if dark else 'jpg'}"
            labels.append(write_digit(mnist, i, path, dark))
            paths.append(str(path))
    code, out, err = run(capsys, "predict", "--model", "digits", "--json", "--top", "3", *paths)
    assert code == 0 and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["input"] for line in lines] == paths
    for line, label in zip(lines, labels):
        probs = [guess["probability"] for guess in line["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert line["top"][0]["category"] == label

    code, out, _ = run(capsys, "predict", "--model", "digits", "--top", "1", paths[0])
    assert code == 0 and out.startswith(f"{paths[0]}: {labels[0]} (") and out.count("\n") == 1


def bad_inputs(tmp_path, png_header_only) -> dict[str, str]:
    """name -> path of inputs that predict must refuse cleanly."""
    (tmp_path / "notes.txt").write_text("not an image\n")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    (tmp_path / "huge.png").write_bytes(png_header_only(20000, 20000))
    names = ["notes.txt", "empty.png", "blank.png", "huge.png", "missing.png"]
    return {name: str(tmp_path / name) for name in names}


@pytest.mark.parametrize("name", ["notes.txt", "empty.png", "blank.png", "huge.png", "missing.png"])
def test_predict_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, capsys, name, png_header_only):
    path = bad_inputs(tmp_path, png_header_only)[name]
    code, out, err = run(capsys, "predict", "--model", "digits", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("doodlelab: error: ") and path in err


@needs_mnist
def test_predict_goes_on_after_a_bad_input(mnist, tmp_path, capsys, png_header_only):
    bad = bad_inputs(tmp_path, png_header_only)
    good = tmp_path / "seven.png"
    label = write_digit(mnist, 0, good, dark_on_light=True)
    code, out, err = run(capsys, "predict", "--model", "digits", "--json", bad["notes.txt"], str(good))
    assert code == 1 and err.count("\n") == 1 and "notes.txt" in err
    assert json.loads(out)["top"][0]["category"] == label


@pytest.mark.parametrize("argv", [["--top", "0", "x.png"], ["--model", "cats", "x.png"], []])
def test_predict_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["predict", *(["--model", "digits"] if "--model" not in argv else []), *argv])
    assert info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


@needs_mnist
def test_evaluate_shipped_weights_json(capsys):
    code, out, _ = run(capsys, "evaluate", "mlp", "--json")
    report = json.loads(out)
    assert code == 0 and report["test_accuracy"] >= 0.982 and report["test_images"] == 10000
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert np.trace(confusion) / 10000 == pytest.approx(report["test_accuracy"])
    code, out, _ = run(capsys, "evaluate", "mlp")
    assert code == 0 and "test accuracy" in out


@needs_mnist
def test_train_then_evaluate_and_predict_with_the_new_weights(mnist, tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["train", "mlp", "--out", str(out_dir), "--epochs", "1", "--hidden", "16", "--val-size", "1000"]
    code, out, _ = run(capsys, *argv, "--dtype", "float16")
    assert code == 0 and "test accuracy" in out
    card = json.loads((out_dir / "mlp_digits.json").read_text())
    assert card["config"]["hidden"] == [16] and card["dtype"] == "float16"
    assert card["command"] == "doodlelab train mlp --dtype float16 --hidden 16 --epochs 1 --val-size 1000"
    assert card["metrics"]["test_accuracy"] > 0.8 and "LeCun" in card["data"]
    assert (out_dir / "curves.png").stat().st_size > 0 and (out_dir / "history.json").is_file()
    weights = str(out_dir / "mlp_digits.npz")
    code, out, _ = run(capsys, "evaluate", "mlp", "--weights", weights, "--json")
    assert json.loads(out)["test_accuracy"] == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-3)
    digit = tmp_path / "digit.png"
    write_digit(mnist, 0, digit, dark_on_light=True)
    code, out, _ = run(capsys, "predict", "--model", "digits", "--weights", weights, str(digit))
    assert code == 0 and out.startswith(str(digit))


def test_train_rejects_bad_settings_in_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "train", "mlp", "--out", str(tmp_path), "--dropout", "1.5")
    assert code == 2 and err.count("\n") == 1 and "dropout" in err


def test_evaluate_with_a_bad_weights_file(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    code, _, err = run(capsys, "evaluate", "mlp", "--weights", str(bad))
    assert code == 2 and err.count("\n") == 1 and "bad.npz" in err
