"""`doodlelab predict` (raw or simplified ndjson, stdin, images, bad items), `evaluate`, `export onnx`."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from PIL import Image

from doodlelab.classifier.evaluate import to_raw
from doodlelab.cli.main import main
from doodlelab.data import strokes
from tests.classifier.conftest import shape


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _raw_json(drawing, rng):
    raw, times = to_raw(drawing, rng)
    return [[s[:, 0].tolist(), s[:, 1].tolist(), t.tolist()] for s, t in zip(raw, times)]


@pytest.fixture()
def drawings_file(tmp_path):
    """square (simplified, with key_id), triangle (raw with timestamps), a bad line, circle (bare list)."""
    rng = np.random.default_rng(5)
    square, triangle, circle = shape("square", rng), shape("triangle", rng), shape("circle", rng)
    lines = [
        json.dumps({"word": "square", "key_id": "42", "drawing": strokes.to_json(square)}),
        json.dumps({"drawing": _raw_json(triangle, rng)}),
        "{broken json",
        json.dumps({"drawing": [[[], []]]}),
        json.dumps(strokes.to_json(circle)),
    ]
    path = tmp_path / "drawings.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predict_json_keeps_input_order_and_reports_bad_lines(tiny_model, drawings_file, capsys):
    code, out, err = run(capsys, "predict", "--weights", tiny_model, "--json", "--top", "2", drawings_file)
    assert code == 1  # some items failed, the rest were classified
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 5]
    assert rows[0]["key_id"] == "42" and "key_id" not in rows[1]
    lines = drawings_file.read_text().splitlines()
    for r in rows:  # each answer is its own line's: the same as predicting that line alone
        alone = drawings_file.parent / f"line{r['line']}.ndjson"
        alone.write_text(lines[r["line"] - 1] + "\n")
        _, single, _ = run(capsys, "predict", "--weights", tiny_model, "--json", "--top", "2", alone)
        top = json.loads(single)["top"]
        assert [t["category"] for t in top] == [t["category"] for t in r["top"]]
        assert [t["probability"] for t in top] == pytest.approx(
            [t["probability"] for t in r["top"]], abs=1e-4
        )
    assert len({r["top"][0]["category"] for r in rows}) >= 2  # and they are not one answer for all
    for r in rows:
        assert len(r["top"]) == 2 and r["top"][0]["probability"] >= r["top"][1]["probability"]
    errors = err.strip().splitlines()
    assert len(errors) == 2 and f"{drawings_file}:3: invalid JSON" in errors[0]
    assert f"{drawings_file}:4:" in errors[1] and "no points" in errors[1]


def test_a_line_over_the_limit_is_one_error_and_the_next_line_is_read(tiny_model, tmp_path, capsys):
    """The ndjson line limit is doodlelab.data.limits' (one set of limits); a longer line is one failed
    item, its rest is not read as more lines, and the following line keeps its number."""
    from doodlelab.data.limits import MAX_LINE_BYTES

    circle = json.dumps(strokes.to_json(shape("circle", np.random.default_rng(3)))).encode()
    path = tmp_path / "long.ndjson"
    path.write_bytes(b'{"drawing": "' + b"x" * (2 * MAX_LINE_BYTES + 7) + b'"}\n' + circle + b"\n")
    code, out, err = run(capsys, "predict", "--weights", tiny_model, "--json", path)
    assert code == 1 and [json.loads(x)["line"] for x in out.splitlines()] == [2]
    assert err == f"doodlelab: error: {path}:1: line longer than {MAX_LINE_BYTES:,} bytes\n"


@pytest.fixture()
def triangle_png(tmp_path):
    """A triangle drawn dark on white paper, ten times larger than 28 px."""
    big = strokes.render(shape("triangle", np.random.default_rng(9)), size=280)
    image = tmp_path / "triangle.png"
    Image.fromarray(255 - big).save(image)
    return image


def stdin_holding(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_predict_reads_stdin_and_images(tiny_model, drawings_file, triangle_png, capsys, monkeypatch):
    stdin_holding(monkeypatch, drawings_file.read_bytes())
    code, out, _ = run(capsys, "predict", "--weights", tiny_model, "--json", "-")
    assert code == 1 and [json.loads(x)["input"] for x in out.splitlines()] == ["-"] * 3
    code, out, _ = run(capsys, "predict", "--weights", tiny_model, triangle_png)
    assert code == 0 and out.startswith(f"{triangle_png}: triangle")


@pytest.mark.parametrize("content", [b"", b"\n  \n\r\n"], ids=["0-byte", "blank-lines"])
def test_an_input_without_drawings_is_a_failed_input(
    tiny_model, triangle_png, tmp_path, capsys, monkeypatch, content
):
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(content)
    code, out, err = run(capsys, "predict", "--weights", tiny_model, empty)
    assert (code, out, err) == (2, "", f"doodlelab: error: no drawings in {empty}\n")
    stdin_holding(monkeypatch, content)
    code, out, err = run(capsys, "predict", "--weights", tiny_model, "-")
    assert (code, out, err) == (2, "", "doodlelab: error: no drawings on standard input\n")
    code, out, err = run(capsys, "predict", "--weights", tiny_model, empty, triangle_png)
    assert code == 1 and out.startswith(f"{triangle_png}: triangle")  # the others go on
    assert err == f"doodlelab: error: no drawings in {empty}\n"


def test_each_error_line_names_its_file_once(tiny_model, tmp_path, capsys, png_header_only):
    files = {"empty.png": b"", "text.png": b"not an image", "huge.png": png_header_only(20000, 20000)}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    paths = [tmp_path / name for name in [*files, "blank.png"]]
    reasons = ["not an image", "not an image", "too large", "blank"]
    for model in (["--weights", tiny_model], ["--model", "digits"]):
        code, out, err = run(capsys, "predict", *model, *paths)
        lines = err.splitlines()
        assert code == 2 and out == "" and len(lines) == len(paths)
        for path, reason, line in zip(paths, reasons, lines):
            assert line.startswith(f"doodlelab: error: {path}: ") and reason in line
            assert line.count(path.name) == 1, line


def test_missing_weights_are_named_as_missing(tmp_path, triangle_png, capsys):
    for model, name in (("classifier", "missing.safetensors"), ("digits", "missing.npz")):
        weights = tmp_path / name
        code, out, err = run(capsys, "predict", "--model", model, "--weights", weights, triangle_png)
        assert (code, out, err) == (2, "", f"doodlelab: error: {weights}: no such weights file\n")


def test_digits_reads_images_only(drawings_file, triangle_png, capsys):
    code, out, err = run(capsys, "predict", "--model", "digits", drawings_file)
    expected = f"doodlelab: error: {drawings_file}: digits reads images only"
    assert code == 2 and out == "" and err.startswith(expected) and err.count("\n") == 1
    code, out, err = run(capsys, "predict", "--model", "digits", drawings_file, triangle_png)
    assert code == 1 and out.startswith(f"{triangle_png}: ") and err.startswith(expected)


@pytest.mark.parametrize("content", [b"", b"not an image", b"{bad\n"])
def test_predict_with_nothing_readable_exits_2(tiny_model, tmp_path, capsys, content):
    path = tmp_path / ("x.ndjson" if content.startswith(b"{") else "x.png")
    path.write_bytes(content)
    code, out, err = run(capsys, "predict", "--weights", tiny_model, path, tmp_path / "missing.png")
    assert code == 2 and out == ""
    assert all(line.startswith("doodlelab: error: ") for line in err.splitlines()) and "Traceback" not in err


def test_evaluate_and_export(tiny_model, shapes_data, tmp_path, capsys, monkeypatch):
    data, cache = shapes_data
    monkeypatch.setenv("DOODLELAB_DATA", str(data))
    monkeypatch.setenv("DOODLELAB_CACHE", str(cache))
    png = tmp_path / "confusion.png"
    code, out, _ = run(
        capsys, "evaluate", "classifier", "--weights", tiny_model, "--json", "--raw", "--confusion", png
    )
    assert code == 0
    report = json.loads(out)
    assert report["n"] == 80 and report["categories"] == 4 and report["top1"] > 0.6
    assert report["top1"] <= report["top3"] and 0 <= report["ece"] <= 1
    assert abs(report["strokes_only"]["difference"]) <= 0.1  # raw and simplified: one pipeline
    assert set(report["per_category"]) == {"circle", "line", "square", "triangle"}
    assert Image.open(png).size[0] > 500
    code, _, err = run(capsys, "export", "onnx", "--weights", tiny_model, "--out", tmp_path / "m.onnx")
    assert code == 0 and (tmp_path / "m.onnx").stat().st_size > 1000
    card = json.loads((tmp_path / "m.onnx.json").read_text())
    assert card["classes"][:2] == ["The Eiffel Tower", "The Great Wall of China"] and card["temperature"] > 0
