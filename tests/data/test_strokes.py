"""The one stroke pipeline: golden bitmaps, simplification, and properties of any drawing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

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
        [
            pearson(S.rasterize(S.parse_strokes(json.loads(line)["drawing"])), bitmap)
            for line, bitmap in zip(lines, bitmaps)
        ]
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


def _textbook_rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Recursive RDP as Douglas & Peucker (1973) describe it: the oracle for the batched one."""
    if len(points) < 3:
        return points
    a, b = points[0], points[-1]
    ab = b - a
    norm = math.hypot(ab[0], ab[1])
    inner = points[1:-1]
    if norm == 0:
        dist = np.linalg.norm(inner - a, axis=1)
    else:
        dist = np.abs(ab[0] * (inner[:, 1] - a[1]) - ab[1] * (inner[:, 0] - a[0])) / norm
    k = int(np.argmax(dist)) + 1
    if dist[k - 1] <= epsilon:
        return points[[0, -1]]
    return np.concatenate([_textbook_rdp(points[: k + 1], epsilon)[:-1], _textbook_rdp(points[k:], epsilon)])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 4), st.booleans()), min_size=1, max_size=6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.5, 2.0, 8.0]),
)
def test_rdp_many_equals_the_textbook_recursion_on_each_polyline(shapes, seed, epsilon):
    rng = np.random.default_rng(seed)
    polylines = []
    for n, grid, closed in shapes:  # random walks, some on a coarse grid (ties), some closed loops
        walk = np.cumsum(rng.normal(0, 3, size=(n, 2)), axis=0)
        walk = np.round(walk / grid) * grid if grid else walk
        if closed and n > 2:
            walk[-1] = walk[0]
        polylines.append(walk)
    out = S.rdp_many(polylines, epsilon)
    assert len(out) == len(polylines)
    for got, line in zip(out, polylines):
        assert np.array_equal(got, _textbook_rdp(line, epsilon))


def _textbook_simplify(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """`simplify` one stroke at a time, step by step as its docstring says: the oracle for the batched one."""
    points = np.concatenate(strokes)
    origin, extent = points.min(axis=0), float((points.max(axis=0) - points.min(axis=0)).max())
    scale = S.SIMPLIFIED_MAX / extent if extent > 1e-9 * max(1.0, float(np.abs(points).max())) else 1.0
    out = []
    for stroke in strokes:
        simple = np.round(_textbook_rdp(S.resample((stroke - origin) * scale), S.RDP_EPSILON))
        kept = [p for i, p in enumerate(simple) if i == 0 or not np.array_equal(p, simple[i - 1])]
        out.append(np.clip(np.array(kept).reshape(-1, 2), 0, S.SIMPLIFIED_MAX))
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 120), st.integers(0, 3)), min_size=1, max_size=6),
    st.integers(0, 2**32 - 1),
)
def test_simplify_equals_the_step_by_step_pipeline_on_each_stroke(shapes, seed):
    rng = np.random.default_rng(seed)
    strokes = []
    for n, kind in shapes:  # random walks, walks on a grid (repeats after rounding), dots, circles
        walk = np.cumsum(rng.normal(0, 4, size=(n, 2)), axis=0) + 300
        if kind == 1:
            walk = np.round(walk / 5) * 5
        elif kind == 2:
            walk = np.repeat(walk[:1], n, axis=0)
        elif kind == 3:
            t = np.linspace(0, 2 * np.pi, n)
            walk = np.column_stack([np.cos(t), np.sin(t)]) * rng.uniform(1, 200) + 400
        strokes.append(walk)
    got, want = S.simplify(strokes), _textbook_simplify(strokes)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def _pillow_render(strokes: list[np.ndarray], size: int = 28) -> np.ndarray:
    """`render` through Pillow's public drawing calls and a plain block mean: the oracle for its faster
    joints and downsampling."""
    k = max(2, math.ceil(280 / size))
    scale = size * k / (S.CANVAS + 2 * S.PADDING + S.LINE_WIDTH)
    points = np.concatenate(strokes)
    offset = (S.CANVAS - (points.min(axis=0) + points.max(axis=0))) / 2
    width, margin = S.LINE_WIDTH * scale, S.PADDING + S.LINE_WIDTH / 2
    image = Image.new("L", (size * k, size * k), 0)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        coords = [tuple(p) for p in ((stroke + offset + margin) * scale).tolist()]
        if len(coords) > 1:
            draw.line(coords, fill=255, width=max(1, round(width)), joint="curve")
        for x, y in (coords[0], coords[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    big = np.asarray(image, dtype=np.float32).reshape(size, k, size, k)
    return np.round(big.mean(axis=(1, 3))).astype(np.uint8)


def test_render_draws_the_pixels_of_pillows_line_joints(paired_root):
    """Every golden drawing, at the training size and another, pixel for pixel."""
    lines = (paired_root / "strokes.ndjson").read_text().splitlines()
    for i, line in enumerate(lines):
        drawing = S.parse_strokes(json.loads(line)["drawing"])
        for size in (28,) if i % 10 else (28, 64):
            assert np.array_equal(S.render(drawing, size), _pillow_render(drawing, size)), (i, size)


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


def mostly(good, bad, odds: int = 30):
    """Draws of `good`, and of `bad` about once in `odds`."""
    return st.integers(0, odds - 1).flatmap(lambda i: bad if i == 0 else good)


json_number = mostly(
    st.one_of(st.integers(-5000, 5000), st.floats(-5000, 5000)),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([True, "1", None, -1, 1e13, 1e14]),
    ),
)
json_stroke = (
    st.lists(json_number, max_size=6)
    .flatmap(
        lambda xs: st.tuples(
            st.just(xs),
            mostly(st.just(len(xs)), st.just(len(xs) + 1)).flatmap(
                lambda n: st.lists(json_number, min_size=n, max_size=n)
            ),
            st.lists(json_number, min_size=len(xs), max_size=len(xs)),
            st.integers(0, 9),
        )
    )
    .map(lambda s: [s[0], s[1]] if s[3] < 5 else [s[0], s[1], s[2]] if s[3] < 9 else (s[0], s[1]))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_stroke, max_size=4))
def test_parse_strokes_fast_path_agrees_with_the_stroke_by_stroke_checks(drawing):
    """The one-conversion path takes only drawings the checks accept, and makes the same arrays of them."""
    fast = S._well_formed(drawing, S.MAX_STROKES, S.MAX_POINTS)
    try:
        checked = S._checked(drawing, S.MAX_STROKES, S.MAX_POINTS)
    except DataError:
        assert fast is None
        return
    if fast is not None:
        assert len(fast) == len(checked)
        assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(fast, checked))


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


@settings(max_examples=100, deadline=None)
@given(drawing)
def test_render_equals_pillows_drawing_for_any_strokes(strokes):
    simplified = S.simplify(strokes)
    assert np.array_equal(S.render(simplified), _pillow_render(simplified))


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
