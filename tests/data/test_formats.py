"""Readers for the official formats: round trips, malformed input with file and line, and the real data."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from doodlelab.data import binary, formats
from doodlelab.data.formats import Drawing, ReadReport
from doodlelab.errors import DataError

SQUARE = [[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]], [[10, 20], [30, 40]]]
RAW = [[[10.5, 20.25, 30.0], [5.0, 6.5, 7.75], [0, 16, 33]], [[100.0], [200.0], [50]]]


def record(word: str = "cat", drawing: object = SQUARE, **extra: object) -> str:
    """One ndjson line."""
    return json.dumps({"word": word, "key_id": "123", "drawing": drawing, **extra})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_simplified_round_trip(tmp_path):
    line = record(recognized=True, countrycode="DE", qd_index=7)
    (d,) = formats.iter_ndjson(write_lines(tmp_path / "cat.ndjson", [line]))
    assert (d.word, d.key_id, d.recognized, d.countrycode, d.qd_index) == ("cat", "123", True, "DE", 7)
    assert not d.is_raw and d.timestamps is None
    assert [s.shape for s in d.strokes] == [(5, 2), (2, 2)]
    assert d.strokes[0].dtype == np.float64
    np.testing.assert_array_equal(d.strokes[1], [[10, 30], [20, 40]])


def test_raw_round_trip_keeps_timestamps(tmp_path):
    (d,) = formats.iter_ndjson(write_lines(tmp_path / "raw.ndjson", [record(drawing=RAW)]))
    assert d.is_raw and d.recognized is None and d.qd_index is None
    np.testing.assert_array_equal(d.strokes[0], [[10.5, 5.0], [20.25, 6.5], [30.0, 7.75]])
    np.testing.assert_array_equal(d.timestamps[0], [0, 16, 33])
    assert [len(t) for t in d.timestamps] == [len(s) for s in d.strokes]


def test_gzip_blank_lines_and_limit(tmp_path):
    path = tmp_path / "cat.ndjson.gz"
    with gzip.open(path, "wt") as f:
        f.write(record(key_id="1") + "\n\n   \n" + record(key_id="2") + "\n" + record(key_id="3"))
    assert [d.key_id for d in formats.iter_drawings(path)] == ["1", "2", "3"]
    assert len(list(formats.iter_ndjson(path, limit=2))) == 2
    assert formats.count_file(path) == 3


def test_recognized_filter_keeps_unflagged_drawings(tmp_path):
    lines = [record(recognized=True), record(recognized=False), record()]
    path = write_lines(tmp_path / "cat.ndjson", lines)
    report = ReadReport()
    assert [d.recognized for d in formats.iter_ndjson(path, recognized=True, report=report)] == [True, None]
    assert (report.read, report.filtered) == (2, 1)
    assert [d.recognized for d in formats.iter_ndjson(path, recognized=False)] == [False, None]
    assert len(list(formats.iter_ndjson(path))) == 3


MALFORMED = {
    "bad json": '{"word": "cat", "drawing": [[[1, 2], [3, 4]]',
    "not an object": "[1, 2, 3]",
    "missing drawing": json.dumps({"word": "cat"}),
    "missing word": json.dumps({"drawing": SQUARE}),
    "word not a string": record(word=5),
    "no strokes": record(drawing=[]),
    "no points": record(drawing=[[[], []]]),
    "NaN": '{"word": "cat", "drawing": [[[1, NaN], [3, 4]]]}',
    "infinity": '{"word": "cat", "drawing": [[[1, 2], [3, -Infinity]]]}',
    "string coordinate": record(drawing=[[["1", 2], [3, 4]]]),
    "bool coordinate": record(drawing=[[[True, 2], [3, 4]]]),
    "unequal lengths": record(drawing=[[[1, 2, 3], [3, 4]]]),
    "drawing not a list": record(drawing="M 0 0 L 1 1"),
    "string timestamp": record(drawing=[[[1, 2], [3, 4], [0, "5"]]]),
    "mixed timestamps": record(drawing=[[[1, 2], [3, 4], [0, 5]], [[1], [2]]]),
    "recognized not a bool": record(recognized="yes"),
    "qd_index not an int": record(qd_index=1.5),
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_line_names_file_and_line(tmp_path, bad):
    path = write_lines(tmp_path / "my cat.ndjson", [record(), "", bad, record()])
    with pytest.raises(DataError) as info:
        list(formats.iter_ndjson(path))
    assert "my cat.ndjson:3: " in str(info.value)
    assert info.value.line == 3 and info.value.path == path


def test_skip_mode_counts_and_keeps_first_errors(tmp_path):
    lines = [record(), *MALFORMED.values(), record(), "not json"]
    path = write_lines(tmp_path / "cat.ndjson", lines)
    report = ReadReport(max_errors=5)
    drawings = list(formats.iter_ndjson(path, on_error="skip", report=report))
    assert len(drawings) == report.read == 2
    assert report.skipped == len(MALFORMED) + 1
    assert len(report.errors) == 5 and all("cat.ndjson:" in e for e in report.errors)
    assert report.errors[0].startswith(f"{path}:2: ")


def test_bad_on_error_and_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="on_error"):
        formats.iter_ndjson(tmp_path / "x.ndjson", on_error="ignore")
    with pytest.raises(DataError, match="read_bitmaps"):
        formats.iter_drawings(tmp_path / "cat.npy")
    with pytest.raises(DataError, match=r"cat\.json.*expected \.ndjson"):
        formats.iter_drawings(tmp_path / "cat.json")


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "cat.ndjson.gz"
    path.write_bytes(gzip.compress((record() + "\n").encode() * 50)[:-30])
    with pytest.raises(DataError, match="cat.ndjson.gz"):
        list(formats.iter_ndjson(path))


def save_npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_read_bitmaps(tmp_path):
    images = np.arange(3 * 784, dtype=np.int64).reshape(3, 784).astype(np.uint8)
    path = save_npy(tmp_path / "cat.npy", images)
    np.testing.assert_array_equal(formats.read_bitmaps(path), images)
    np.testing.assert_array_equal(formats.read_bitmaps(path, mmap=False), images)
    assert formats.count_file(path) == 3


def test_truncated_npy_is_a_data_error(tmp_path):
    path = save_npy(tmp_path / "cat.npy", np.zeros((10, 784), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    for mmap in (True, False):
        with pytest.raises(DataError, match=r"cat\.npy.*truncated"):
            formats.read_bitmaps(path, mmap=mmap)
    path.write_bytes(path.read_bytes()[:40])  # cut inside the header
    with pytest.raises(DataError, match=r"cat\.npy"):
        formats.read_bitmaps(path)


@pytest.mark.parametrize(
    "array", [np.zeros((2, 784), np.float32), np.zeros((2, 28, 28), np.uint8), np.zeros(784, np.uint8)]
)
def test_npy_with_wrong_dtype_or_shape(tmp_path, array):
    with pytest.raises(DataError, match=r"cat\.npy: expected a \(N, 784\) uint8"):
        formats.read_bitmaps(save_npy(tmp_path / "cat.npy", array))


def test_files_that_are_not_npy(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"hello, world")
    np.savez(tmp_path / "b.npy", x=np.zeros((1, 784), np.uint8))  # a zip archive
    save_npy(tmp_path / "c.npy", np.array([{"pickled": 1}], dtype=object))
    for name in ("a.npy", "b.npy.npz", "c.npy"):
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            formats.read_bitmaps(tmp_path / name)


def simple_drawings() -> list[Drawing]:
    strokes = [np.array([[0.0, 0.0], [255.0, 3.0], [17.0, 255.0]]), np.array([[9.0, 9.0]])]
    return [
        Drawing("house plant", strokes, "5629499534213120", True, "US"),
        Drawing("house plant", strokes[1:], None, False, None),
    ]


def test_binary_round_trip(tmp_path):
    path = tmp_path / "house plant.bin"
    assert binary.write_binary(path, simple_drawings()) == 2
    first, second = formats.iter_drawings(path)
    assert (first.word, first.key_id, first.recognized, first.countrycode) == (
        "house plant",
        "5629499534213120",
        True,
        "US",
    )
    assert (second.key_id, second.recognized, second.countrycode, second.is_raw) == (None, False, None, False)
    for got, want in zip(first.strokes + second.strokes, simple_drawings()[0].strokes + [np.array([[9, 9]])]):
        np.testing.assert_array_equal(got, want)
    assert [d.recognized for d in binary.iter_binary(path, recognized=True)] == [True]
    assert formats.counts(tmp_path)["binary"] == {}  # not inside a binary/ folder


def test_binary_layout_matches_the_official_description(tmp_path):
    """key_id u64, countrycode 2s, recognized u8, timestamp u32, n_strokes u16; n_points u16, x[n], y[n]."""
    data = struct.pack("<Q2sBIH", 42, b"FR", 1, 1490000000, 1) + struct.pack("<H", 2) + bytes([1, 2, 3, 4])
    path = tmp_path / "cat.bin"
    path.write_bytes(data)
    (d,) = binary.iter_binary(path)
    assert (d.word, d.key_id, d.countrycode, d.recognized) == ("cat", "42", "FR", True)
    np.testing.assert_array_equal(d.strokes[0], [[1, 3], [2, 4]])


@pytest.mark.parametrize("cut", [1, 5, 15, 18])
def test_truncated_binary_names_the_record(tmp_path, cut):
    path = tmp_path / "cat.bin"
    binary.write_binary(path, simple_drawings())
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(DataError, match=r"cat\.bin: record 2: truncated"):
        list(binary.iter_binary(path))
    report = ReadReport()
    assert len(list(binary.iter_binary(path, on_error="skip", report=report))) == 1
    assert (report.read, report.skipped) == (1, 1)


def test_write_binary_rejects_what_does_not_fit(tmp_path):
    raw = Drawing("cat", [np.array([[0.5, 1.0], [300.0, 2.0]])])
    with pytest.raises(DataError, match="0..255"):
        binary.write_binary(tmp_path / "cat.bin", [raw])
    with pytest.raises(DataError, match="binary format"):
        binary.write_binary(tmp_path / "cat.bin", [Drawing("cat", [np.zeros((1, 2))], key_id="abc")])


def test_category_files_and_counts(tmp_path):
    write_lines(tmp_path / "simplified" / "house plant.ndjson", [record(), "", record(), record()])
    (tmp_path / "simplified" / "house plant.ndjson.part").write_text("partial download\n")
    write_lines(tmp_path / "raw" / "cat.ndjson", [record(drawing=RAW)])
    (tmp_path / "numpy_bitmap").mkdir()
    save_npy(tmp_path / "numpy_bitmap" / "house plant.npy", np.zeros((5, 784), np.uint8))
    (tmp_path / "binary").mkdir()
    binary.write_binary(tmp_path / "binary" / "house plant.bin", simple_drawings())

    files = formats.category_files(tmp_path, "House_Plant")
    assert sorted(files) == ["binary", "numpy_bitmap", "simplified"]
    assert files["simplified"].name == "house plant.ndjson"
    assert formats.category_files(tmp_path, "dog") == {}
    assert formats.counts(tmp_path) == {
        "simplified": {"house plant": 3},
        "raw": {"cat": 1},
        "numpy_bitmap": {"house plant": 5},
        "binary": {"house plant": 2},
    }


def test_counts_match_counts_json(quickdraw_root):
    expected = json.loads((quickdraw_root / "counts.json").read_text())
    found = formats.counts(quickdraw_root)
    assert found["simplified"] == expected["counts"]
    assert found["numpy_bitmap"] == expected["bitmap_counts"]


def test_reading_a_real_category(quickdraw_root):
    files = formats.category_files(quickdraw_root, "house plant")
    report = ReadReport()
    drawings = list(formats.iter_drawings(files["simplified"], report=report))
    assert report.skipped == 0 and len(drawings) == formats.count_file(files["simplified"])
    assert {d.word for d in drawings} == {"house plant"}
    points = np.concatenate([s for d in drawings for s in d.strokes])
    assert points.min() >= 0 and points.max() <= 255 and np.all(points == np.round(points))
    bitmaps = formats.read_bitmaps(files["numpy_bitmap"])
    assert bitmaps.shape[1] == 784 and bitmaps.max() == 255
