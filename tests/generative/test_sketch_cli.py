"""`doodlelab complete` and `generate --model sketch`: the person's strokes kept exactly, outputs that the
pipeline and `doodlelab predict` read back, and one line with exit code 2 for every bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from doodlelab.cli.main import main
from doodlelab.data import strokes as pipeline
from doodlelab.data.formats import parse_record
from tests.generative.test_sketch import sketch_run  # noqa: F401

RAW = [
    [[-1000.5, -900.25, -800.0], [20000.75, 20100.5, 20050.0], [0, 16, 33]],
    [[-950.0, -850.125], [20020.0, 20080.0], [100, 140]],
]  # canvas floats, negative and huge, with times
SIMPLIFIED = [[[0, 120, 255], [0, 200, 130]], [[40, 60], [255, 250]]]


def write_lines(path, lines) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


@pytest.fixture
def model(sketch_run):  # noqa: F811
    return str(sketch_run[0] / "sketch.safetensors")


def test_complete_keeps_the_input_strokes_exactly_and_adds_strokes_in_its_frame(model, tmp_path):
    lines = [
        {"word": "circle", "key_id": "7", "drawing": RAW},
        {"drawing": SIMPLIFIED},
        [[[5e5, 5.5e5], [-3e5, -2.5e5]]],
    ]  # a bare stroke list, far from the origin
    source, out = write_lines(tmp_path / "in.ndjson", lines), tmp_path / "out.ndjson"
    assert (
        main(
            [
                "complete",
                source,
                "--out",
                str(out),
                "--model",
                model,
                "--n",
                "2",
                "--category",
                "square",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6 and [r["word"] for r in records] == ["square"] * 6
    assert [r.get("key_id") for r in records] == ["7", "7", None, None, None, None]
    inputs = [RAW, RAW, SIMPLIFIED, SIMPLIFIED, lines[2], lines[2]]
    for r, drawing in zip(records, inputs):
        assert r["drawing"][: len(drawing)] == drawing  # unchanged, timestamps and all
        assert len(r["drawing"]) > len(drawing)
        pipeline.parse_strokes(r["drawing"])  # within the limits: every tool reads it back
    new = [
        np.concatenate([np.column_stack(s[:2]) for s in r["drawing"][len(d) :]])
        for r, d in zip(records, inputs)
    ]
    assert all(np.all(p == np.round(p)) and p.min() >= 0 and p.max() <= 255 for p in new[2:4])  # simplified
    assert all(np.abs(p - [-900, 20050]).max() < 600 for p in new[:2])  # near the raw drawing, its frame
    assert all(np.abs(p - [5.25e5, -2.75e5]).max() < 1e5 for p in new[4:])
    again = tmp_path / "again.ndjson"
    main(
        [
            "complete",
            source,
            "--out",
            str(again),
            "--model",
            model,
            "--n",
            "2",
            "--category",
            "square",
            "--seed",
            "3",
        ]
    )
    assert again.read_text() == out.read_text()  # same seed, same completions


def test_generated_files_round_trip_through_the_pipeline_and_predict(model, tmp_path, capsys):
    outs = {s: tmp_path / f"cats{s}" for s in (".ndjson", ".svg", ".png", ".npy")}
    for out in outs.values():
        assert (
            main(
                [
                    "generate",
                    "--model",
                    model,
                    "--category",
                    "Triangle",
                    "--n",
                    "3",
                    "--seed",
                    "1",
                    "--temperature",
                    "0.9",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    records = [parse_record(line) for line in outs[".ndjson"].read_text().splitlines()]
    assert [r.word for r in records] == ["triangle"] * 3
    assert all(pipeline.is_simplified(r.strokes) for r in records)  # the official simplified schema
    svg = outs[".svg"].read_text()
    groups = re.findall(r"<g transform[^>]*>(.*?)</g>", svg, flags=re.S)
    from_svg = [
        [
            np.array([[float(v) for v in p.split(",")] for p in pts.split()])
            for pts in re.findall(r'points="([^"]*)"', g)
        ]
        for g in groups
    ]
    assert [[s.tolist() for s in d] for d in from_svg] == [[s.tolist() for s in r.strokes] for r in records]
    rendered = np.stack([pipeline.rasterize(r.strokes) for r in records])
    np.testing.assert_array_equal(np.load(outs[".npy"]), rendered)
    capsys.readouterr()
    assert main(["predict", "--top", "1", str(outs[".ndjson"])]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    folder = tmp_path / "svgs"
    assert main(["generate", "--model", model, "--category", "line", "--n", "2", "--out", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["line_000.svg", "line_001.svg"]


BAD_LINES = {
    "empty drawing": ({"drawing": []}, "non-empty list of strokes"),
    "malformed": ("{not json", "invalid JSON"),
    "NaN": ('{"drawing": [[[0, NaN], [1, 2]]]}', "finite"),
    "oversize": ({"drawing": [[[0, 2e6], [0, 1]]]}, "out of range"),
    "unknown word": ({"word": "dgo", "drawing": SIMPLIFIED}, "unknown category 'dgo'"),
    "word the model lacks": ({"word": "dog", "drawing": SIMPLIFIED}, "does not know 'dog'"),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_complete_bad_lines_exit_2_with_one_line(model, tmp_path, capsys, case):
    line, message = BAD_LINES[case]
    source, out = write_lines(tmp_path / "in.ndjson", [{"drawing": SIMPLIFIED}, line]), tmp_path / "o.ndjson"
    assert main(["complete", source, "--out", str(out), "--model", model]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and not out.exists()


BAD_FLAGS = {
    "n zero": (["--n", "0"], "--n must be from 1 to 64"),
    "n too many": (["--n", "65"], "--n must be from 1 to 64"),
    "temperature zero": (["--temperature", "0"], "temperature must be > 0"),
    "temperature NaN": (["--temperature", "nan"], "temperature must be > 0"),
    "top-p": (["--top-p", "1.5"], "top_p must be"),
    "guidance negative": (["--guidance", "-1"], "guidance must be >= 0 and <= 10"),
    "guidance too strong": (["--guidance", "11"], "guidance must be >= 0 and <= 10"),
    "guidance NaN": (["--guidance", "nan"], "guidance must be >= 0"),
    "unknown category": (["--category", "dgo"], "unknown category 'dgo'"),
    "no model": (["--model", "missing.safetensors"], "no such weights file"),
}


@pytest.mark.parametrize("case", BAD_FLAGS)
def test_bad_flags_exit_2_with_one_line(model, tmp_path, capsys, case):
    flags, message = BAD_FLAGS[case]
    source = write_lines(tmp_path / "in.ndjson", [{"drawing": SIMPLIFIED}])
    with_model = flags if "--model" in flags else [*flags, "--model", model]
    assert main(["complete", source, "--out", str(tmp_path / "o.ndjson"), *with_model]) == 2
    runs = 1
    if case != "no model":  # generate reads a missing --model as a bitmap generator's: its own message
        generate = ["generate", "--category", "circle", "--out", str(tmp_path / "g.ndjson"), *with_model]
        assert main(generate) == 2
        runs = 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == runs and all(message in e for e in err)


def test_an_empty_input_file_exits_2(model, tmp_path, capsys):
    (tmp_path / "in.ndjson").write_text("\n")
    assert (
        main(["complete", str(tmp_path / "in.ndjson"), "--out", str(tmp_path / "o.ndjson"), "--model", model])
        == 2
    )
    assert "no drawings in" in capsys.readouterr().err
