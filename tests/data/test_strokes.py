"""The one stroke pipeline: golden bitmaps, simplification, and properties of any drawing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doodlelab.data import strokes as S
from doodlelab.errors import DataError


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


# ---------------------------------------------------------------- golden pairs (real Google bitmaps)


def test_render_reproduces_google_numpy_bitmaps(paired_root):
    lines = (paired_root / "strokes.ndjson").read_text().splitlines()
    bitmaps = np.load(paired_root / "bitmaps.npy")
    assert len(lines) == len(bitmaps) > 1000
    r = np.array(
        [pearson(S.rasterize(S.parse_strokes(json.loads(line)["drawing"])), bitmap)
         for line, bitmap in zip(lines, bitmaps)]
    )
    median, p5 = np.median(r), np.percentile(r, 5)
    print(f"golden pairs: n={len(r)} median r={median:.4f} p5={p5:.4f} min={r.min():.4f}")
    assert median >= 0.98
    assert p5 >= 0.95


def test_simplified_drawings_survive_a_round_trip_through_raw(paired_root):
    """A simplified drawing blown up to canvas floats renders like the original (the pipeline is one)."""
    lines = (paired_root / "strokes.ndjson").read_text().splitlines()[:100]
    rng = np.random.default_rng(0)
    scores = []
    for line in lines:
        simple = S.parse_strokes(json.loads(line)["drawing"])
        raw = [s * 2.7 + rng.uniform(0, 0.3, size=s.shape) + 40.5 for s in simple]
        assert not S.is_simplified(raw)
        scores.append(pearson(S.rasterize(raw), S.rasterize(simple)))
    assert np.median(scores) > 0.97


# ---------------------------------------------------------------- simplification, step by step


def test_simplify_aligns_scales_and_rounds():
    raw = [np.array([[10.5, 20.0], [110.5, 60.0]]), np.array([[70.5, 20.0]])]
    out = S.simplify(raw)
    pts = np.concatenate(out)
    assert pts.min(axis=0).tolist() == [0, 0]
    assert pts.max() == 255  # longer side (x, 100 wide) scaled to 255
    assert np.all(pts == np.round(pts))
    assert out[0].tolist() == [[0, 0], [255, 102]]  # a straight line keeps only its ends
    assert out[1].tolist() == [[153, 0]]


def test_rdp_drops_points_within_epsilon_and_keeps_corners():
    line = np.array([[0, 0], [50, 1.5], [100, 0], [100, 100]], dtype=float)
    assert S.rdp(line, 2.0).tolist() == [[0, 0], [100, 0], [100, 100]]
    assert len(S.rdp(line, 1.0)) == 4


def test_resample_spacing_is_one_unit():
    out = S.resample(np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 5.5]]))
    steps = np.linalg.norm(np.diff(out, axis=0), axis=1)
    assert np.allclose(steps[:-1], 1.0)
    assert out[-1].tolist() == [10.0, 5.5]


def test_other_sizes_keep_the_geometry():
    drawing = [np.array([[0, 0], [255, 255]], dtype=float), np.array([[0, 255], [255, 0]], dtype=float)]
    small, big = S.render(drawing, 28), S.render(drawing, 64)
    assert big.shape == (64, 64) and big.dtype == np.uint8
    from PIL import Image

    shrunk = np.asarray(Image.fromarray(big).resize((28, 28), Image.Resampling.BOX))
    assert pearson(small, shrunk) > 0.97  # the same picture, only sharper
    assert abs(big.mean() / 255 - small.mean() / 255) < 0.02  # same ink coverage at both sizes


@pytest.mark.parametrize(
    "drawing, message",
    [
        ([], "no strokes"),
        ([[[], []]], "no points"),
        ([[[1, 2], [3]]], "equal length"),
        ([[[1, float("nan")], [3, 4]]], "finite"),
        ([[[1, float("inf")], [3, 4]]], "finite"),
        ([[["a", 2], [3, 4]]], "numbers"),
        ([[[True, 2], [3, 4]]], "numbers"),
        ([[[1, 2], [3, 4], [5]]], "timestamps"),
        ("not a list", "list of strokes"),
        ([[[0] * 3, [0] * 3]] * (S.MAX_STROKES + 1), "limit"),
    ],
)
def test_parse_strokes_rejects_bad_drawings(drawing, message):
    with pytest.raises(DataError, match=message if message != "no strokes" else "non-empty"):
        S.parse_strokes(drawing)


def test_too_many_points_is_rejected():
    with pytest.raises(DataError, match="more than"):
        S.parse_strokes([[list(range(S.MAX_POINTS + 1)), list(range(S.MAX_POINTS + 1))]])


# ---------------------------------------------------------------- properties of any drawing

coordinate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
stroke = st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=60).map(
    lambda pts: np.array(pts, dtype=np.float64)
)
drawing = st.lists(stroke, min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(drawing)
def test_any_drawing_renders_to_the_right_shape_and_dtype(strokes):
    for size in (28, 64):
        image = S.rasterize(strokes, size)
        assert image.shape == (size, size) and image.dtype == np.uint8
        assert image.max() > 0  # something is drawn, even for a single point


@settings(max_examples=10, deadline=None)
@given(st.integers(1000, 5000), st.integers(0, 2**32 - 1))
def test_thousands_of_points_and_repeated_points(n, seed):
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(size=(n, 2)), axis=0)
    walk = np.repeat(walk, 2, axis=0)  # every point twice
    image = S.rasterize([walk])
    assert image.shape == (28, 28) and image.max() > 0


def _spread_drawing(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.cumsum(rng.normal(0, 20, size=(rng.integers(2, 30), 2)), axis=0) for _ in range(3)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.floats(-1e5, 1e5), st.floats(-1e5, 1e5), st.floats(0.01, 100))
def test_rendering_is_invariant_to_translation_and_uniform_scale(seed, dx, dy, k):
    strokes = _spread_drawing(seed)
    base = S.rasterize(strokes)
    moved = S.rasterize([s * k + np.array([dx, dy]) for s in strokes])
    # identical up to rounding of the integer coordinates (a pixel here or there, never a new shape)
    assert pearson(base, moved) > 0.97
    assert np.abs(base.astype(int) - moved.astype(int)).mean() < 4


def test_is_simplified():
    assert S.is_simplified([np.array([[0.0, 0.0], [255.0, 10.0]])])
    assert not S.is_simplified([np.array([[0.5, 0.0], [255.0, 10.0]])])
    assert not S.is_simplified([np.array([[3.0, 3.0], [600.0, 10.0]])])
    assert not S.is_simplified([np.array([[0.0, 0.0], [120.0, 80.0]])])  # a small integer canvas drawing
    assert S.is_simplified([np.array([[1.0, 2.0], [253.0, 10.0]])])  # corners cut by resampling


def test_real_simplified_files_are_detected_as_simplified(quickdraw_root):
    lines = (quickdraw_root / "simplified" / "cat.ndjson").read_text().splitlines()[:300]
    detected = [S.is_simplified(S.parse_strokes(json.loads(line)["drawing"])) for line in lines]
    assert np.mean(detected) > 0.99


def test_to_json_round_trips():
    strokes = [np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[1.5, 2.0]])]
    again = S.parse_strokes(S.to_json(strokes))
    assert all(np.array_equal(a, b) for a, b in zip(strokes, again))


def test_a_drawing_of_vanishing_extent_is_a_dot_not_an_overflow():
    tiny = [np.array([[1.0, 1.0], [1.0 + 5e-324, 1.0]])]
    image = S.rasterize(tiny, raw=True)
    assert image.max() > 0 and np.isfinite(image).all()
