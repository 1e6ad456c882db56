"""The one stroke pipeline: raw canvas strokes -> simplified strokes -> bitmaps like Google's numpy_bitmap.

Training, evaluation, the CLI and the web server all call these pure functions (the drawing itself is in
`render`), so a drawing is prepared the same way wherever it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from doodlelab.data.limits import (
    MAX_COORDINATE,
    MAX_INK_LENGTH,
    MAX_POINTS,
    MAX_STROKES,
    MAX_TIMESTAMP,
    MIN_EXTENT,
    coordinate_range,
)
from doodlelab.data.render import CANVAS, LINE_WIDTH, PADDING, render  # noqa: F401  (step 3, and its geometry)
from doodlelab.errors import DataError

# A drawing is a list of strokes; a stroke is an (n, 2) float array of (x, y) points.
Strokes = list[np.ndarray]

RDP_EPSILON = 2.0  # simplification: points within this of the simplified polyline are dropped
SIMPLIFIED_MAX = 255  # the simplified format's box: coordinates are integers in 0..255

_NUMBER_TYPES = frozenset((int, float))  # what JSON numbers parse to (bool and str are not coordinates)


def parse_strokes(
    drawing: object, *, max_strokes: int = MAX_STROKES, max_points: int = MAX_POINTS
) -> Strokes:
    """Validate the dataset's JSON form `[[xs], [ys]]` or `[[xs], [ys], [ts]]` per stroke against the
    input limits (`doodlelab.data.limits`), the same for files and the web API.

    Returns a list of (n, 2) float64 arrays (timestamps are checked, then dropped; empty strokes are
    dropped). Raises DataError naming the stroke and the limit: no strokes, empty strokes, unequal lengths,
    non-numbers, NaN/inf, coordinates or timestamps out of range, too many strokes or points, a drawing
    too small or with too much ink.
    """
    strokes = _well_formed(drawing, max_strokes, max_points)
    if strokes is None:  # something is off: find it, stroke by stroke, and say which
        strokes = _checked(drawing, max_strokes, max_points)
    _check_geometry(strokes)
    return strokes


def _well_formed(drawing: object, max_strokes: int, max_points: int) -> Strokes | None:
    """The strokes of a drawing that passes every check of `_checked`, made with one array conversion for
    all its numbers (several times fewer NumPy calls); None at the first doubt, without saying why."""
    if type(drawing) is not list or not 0 < len(drawing) <= max_strokes:
        return None
    xs, ys, ts, ends = [], [], [], []
    for stroke in drawing:
        if type(stroke) is not list or len(stroke) not in (2, 3):
            return None
        x, y = stroke[0], stroke[1]
        if type(x) is not list or type(y) is not list or not x or len(x) != len(y):
            return None
        if len(stroke) == 3:
            if type(stroke[2]) is not list or len(stroke[2]) != len(x):
                return None
            ts += stroke[2]
        xs += x
        ys += y
        ends.append(len(xs))
    if len(xs) > max_points or not all(_NUMBER_TYPES.issuperset(map(type, v)) for v in (xs, ys, ts)):
        return None
    try:
        points = np.array([xs, ys], dtype=np.float64).T.copy()  # (n, 2)
        times = np.array(ts, dtype=np.float64)
    except OverflowError:
        return None
    if not np.isfinite(points).all() or np.abs(points).max() > MAX_COORDINATE:
        return None
    if len(times) and not (np.isfinite(times).all() and 0 <= times.min() and times.max() <= MAX_TIMESTAMP):
        return None
    return [points[a:b] for a, b in zip([0, *ends[:-1]], ends)]


def _checked(drawing: object, max_strokes: int, max_points: int) -> Strokes:
    """`parse_strokes`, one stroke and one check at a time: raises DataError at the first problem."""
    if not isinstance(drawing, (list, tuple)) or not drawing:
        raise DataError("drawing must be a non-empty list of strokes")
    if len(drawing) > max_strokes:
        raise DataError(f"drawing has {len(drawing)} strokes (limit {max_strokes})")
    strokes: Strokes = []
    total = 0
    for i, stroke in enumerate(drawing):
        if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
            raise DataError(f"stroke {i} must be [[xs], [ys]] or [[xs], [ys], [ts]]")
        xs, ys = stroke[0], stroke[1]
        if not isinstance(xs, (list, tuple)) or not isinstance(ys, (list, tuple)) or len(xs) != len(ys):
            raise DataError(f"stroke {i}: xs and ys must be lists of equal length")
        if len(stroke) == 3 and (not isinstance(stroke[2], (list, tuple)) or len(stroke[2]) != len(xs)):
            raise DataError(f"stroke {i}: timestamps must be a list as long as xs")
        total += len(xs)
        if total > max_points:
            raise DataError(f"drawing has more than {max_points} points (limit {max_points})")
        if not xs:
            continue
        points = np.column_stack([_numbers(xs, i, "coordinates"), _numbers(ys, i, "coordinates")])
        if np.abs(points).max() > MAX_COORDINATE:
            raise DataError(f"stroke {i}: coordinates out of range (limit {coordinate_range()})")
        if len(stroke) == 3:
            times = _numbers(stroke[2], i, "timestamps")
            if times.min() < 0 or times.max() > MAX_TIMESTAMP:
                raise DataError(f"stroke {i}: timestamps out of range (limit 0 to {MAX_TIMESTAMP:g} ms)")
        strokes.append(points)
    if not strokes:
        raise DataError("drawing has no points")
    return strokes


def _numbers(values: list | tuple, i: int, what: str) -> np.ndarray:
    """A stroke's list of JSON numbers -> (n,) float64; DataError for non-numbers, NaN and infinities."""
    if not _NUMBER_TYPES.issuperset(map(type, values)):
        raise DataError(f"stroke {i}: {what} must be numbers")
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # integers too large for a float
        raise DataError(f"stroke {i}: {what} out of range") from None
    if not np.isfinite(array).all():
        raise DataError(f"stroke {i}: {what} must be finite (no NaN or infinity)")
    return array


def _check_geometry(strokes: Strokes) -> None:
    """DataError for a drawing narrower than MIN_EXTENT (but not a dot), or one whose strokes, scaled to
    the 255 box, are longer than MAX_INK_LENGTH (back and forth over the canvas thousands of times)."""
    points = np.concatenate(strokes)
    extent = float((points.max(axis=0) - points.min(axis=0)).max())
    if 0 < extent < MIN_EXTENT:
        raise DataError(f"drawing too small (spans less than {MIN_EXTENT:g} units)")
    steps = np.diff(points, axis=0)
    ends = np.cumsum([len(s) for s in strokes])[:-1] - 1  # the step from one stroke's end to the next start
    steps[ends] = 0
    length = float(np.hypot(steps[:, 0], steps[:, 1]).sum())
    if extent > 0 and length * SIMPLIFIED_MAX / extent > MAX_INK_LENGTH:
        raise DataError(
            f"drawing too long (strokes, scaled to the {SIMPLIFIED_MAX} box, longer than "
            f"{MAX_INK_LENGTH:,} units)"
        )


def has_timestamps(drawing: object) -> bool:
    """True when every stroke of the JSON form carries a third array (timestamps): the raw format."""
    return (
        isinstance(drawing, (list, tuple))
        and bool(drawing)
        and all(isinstance(s, (list, tuple)) and len(s) == 3 for s in drawing)
    )


def is_simplified(strokes: Sequence[np.ndarray]) -> bool:
    """True when strokes look like the simplified format: integers in 0..255, aligned to the top-left
    and spanning the box (resampling can cut corners, so real files reach min <= 3 and max >= 245)."""
    points = np.concatenate(strokes)
    if not np.all(points == np.round(points)) or points.max() > SIMPLIFIED_MAX:
        return False
    return bool(points.min(axis=0).max() <= 3 and points.max() >= 245)


def resample(stroke: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """Points every `spacing` units of arc length along a polyline (ends kept). (n, 2) -> (m, 2)."""
    if len(stroke) < 2:
        return stroke.copy()
    step = np.diff(stroke, axis=0)
    arc = np.concatenate([[0.0], np.cumsum(np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1]))])
    length = arc[-1]
    if length == 0:
        return stroke[:1].copy()
    targets = np.arange(0.0, length, spacing)
    targets = np.append(targets, length) if length - targets[-1] > 1e-9 else targets
    return np.column_stack([np.interp(targets, arc, stroke[:, 0]), np.interp(targets, arc, stroke[:, 1])])


def rdp(points: np.ndarray, epsilon: float = RDP_EPSILON) -> np.ndarray:
    """Ramer-Douglas-Peucker: keep the points farther than `epsilon` from the simplified polyline.

    (n, 2) -> (m, 2) with m <= n, ends kept. See `rdp_many`.
    """
    return rdp_many([points], epsilon)[0]


def rdp_many(polylines: Sequence[np.ndarray], epsilon: float = RDP_EPSILON) -> Strokes:
    """RDP on several polylines at once: [(n_i, 2)] -> [(m_i, 2)]. See `_rdp_keep`."""
    if not polylines:
        return []
    sizes = [len(p) for p in polylines]
    points = np.concatenate(polylines)
    keep = _rdp_keep(points, sizes, epsilon)
    return [points[a : a + n][keep[a : a + n]] for a, n in zip(_firsts(sizes), sizes)]


def _firsts(sizes: Sequence[int]) -> list[int]:
    """Where each of consecutive parts of these sizes begins."""
    return [0, *np.cumsum(sizes)[:-1].tolist()] if len(sizes) else []


def _rdp_keep(points: np.ndarray, sizes: Sequence[int], epsilon: float) -> np.ndarray:
    """Which of `points` (N, 2), polylines of `sizes` one after the other, RDP keeps: (N,) bool.

    Each round splits every open segment of every polyline at its farthest inner point (the first, on
    ties) if that point is farther than `epsilon`. The result does not depend on the order segments are
    split in, so a round treats them all with one set of array operations (no recursion limit, a few
    dozen NumPy calls per drawing)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    firsts = np.cumsum(sizes) - sizes
    keep = np.zeros(len(points), dtype=bool)
    starts, ends = firsts[sizes > 0], (firsts + sizes - 1)[sizes > 0]  # the open segments
    keep[starts] = keep[ends] = True
    x, y = points[:, 0], points[:, 1]
    while True:
        wide = ends - starts >= 2  # segments with inner points
        starts, ends = starts[wide], ends[wide]
        if not len(starts):
            return keep
        counts = ends - starts - 1
        offsets = np.cumsum(counts) - counts  # where each segment's inner points begin in this round
        inner = np.arange(offsets[-1] + counts[-1]) + np.repeat(starts + 1 - offsets, counts)
        ax, ay = x[starts], y[starts]
        abx, aby = x[ends] - ax, y[ends] - ay
        norm = np.array([math.hypot(u, v) for u, v in zip(abx.tolist(), aby.tolist())])
        dx, dy = x[inner] - np.repeat(ax, counts), y[inner] - np.repeat(ay, counts)
        with np.errstate(divide="ignore", invalid="ignore"):  # closed loops (norm 0) are replaced below
            dist = np.abs(np.repeat(abx, counts) * dy - np.repeat(aby, counts) * dx) / np.repeat(norm, counts)
        if not norm.all():
            loop = np.repeat(norm == 0, counts)
            dist[loop] = np.sqrt(dx[loop] * dx[loop] + dy[loop] * dy[loop])  # closed loop: distance to a
        farthest = np.maximum.reduceat(dist, offsets)
        split = farthest > epsilon
        # the points at their segment's maximum, in order: a segment's first is the first one at or after
        # the segment's offset
        ties = np.flatnonzero(dist == np.repeat(farthest, counts))
        mid = inner[ties[np.searchsorted(ties, offsets[split])]]
        keep[mid] = True
        starts, ends = np.concatenate([starts[split], mid]), np.concatenate([mid, ends[split]])


def simplify(strokes: Sequence[np.ndarray]) -> Strokes:
    """Raw strokes -> simplified strokes, as the dataset documentation describes.

    1. align to the top-left so the minimum x and y are 0; 2. scale uniformly so the longer side is 255;
    3. resample every stroke at 1-unit spacing; 4. simplify with RDP, epsilon 2.0; integer coordinates.
    """
    points = np.concatenate(strokes)
    origin = points.min(axis=0)
    extent = float((points.max(axis=0) - origin).max())
    # a drawing narrower than 1e-9 of its own position is a dot (dividing by it would overflow)
    dot = extent <= 1e-9 * max(1.0, float(np.abs(points).max()))
    scaled = (points - origin) * (1.0 if dot else SIMPLIFIED_MAX / extent)
    lines = [resample(scaled[a : a + len(s)]) for a, s in zip(_firsts([len(s) for s in strokes]), strokes)]
    sizes = [len(line) for line in lines]
    dense = np.concatenate(lines)
    keep = _rdp_keep(dense, sizes, RDP_EPSILON)
    simple, owner = np.round(dense[keep]), np.repeat(np.arange(len(lines)), sizes)[keep]
    # rounding can make neighbours equal: drop exact repeats within a stroke (each keeps its first point)
    repeat = np.zeros(len(simple), dtype=bool)
    repeat[1:] = (
        (simple[1:, 0] == simple[:-1, 0]) & (simple[1:, 1] == simple[:-1, 1]) & (owner[1:] == owner[:-1])
    )
    simple = np.clip(simple[~repeat], 0, SIMPLIFIED_MAX)
    counts = np.bincount(owner[~repeat], minlength=len(lines)).tolist()  # points kept per stroke
    return [simple[a : a + n] for a, n in zip(_firsts(counts), counts)]


def rasterize(strokes: Sequence[np.ndarray], size: int = 28, raw: bool | None = None) -> np.ndarray:
    """Any strokes (raw canvas or simplified) -> (size, size) uint8 bitmap through the one pipeline.

    `raw=None` detects the format (`is_simplified`); pass True when the input had timestamps.
    """
    strokes = list(strokes)
    if not strokes or sum(len(s) for s in strokes) == 0:
        raise DataError("drawing has no points")
    if raw is None:
        raw = not is_simplified(strokes)
    return render(simplify(strokes) if raw else strokes, size)


def rasterize_many(drawings: Iterable[Sequence[np.ndarray]], size: int = 28) -> np.ndarray:
    """Many drawings -> (N, size, size) uint8."""
    images = [rasterize(d, size) for d in drawings]
    return np.stack(images) if images else np.zeros((0, size, size), dtype=np.uint8)


def to_json(strokes: Sequence[np.ndarray]) -> list[list[list[float]]]:
    """Strokes -> the dataset's JSON form `[[xs], [ys]]` per stroke (ints where integral)."""
    out = []
    for s in strokes:
        xs, ys = s[:, 0], s[:, 1]
        if np.all(s == np.round(s)):
            out.append([xs.astype(int).tolist(), ys.astype(int).tolist()])
        else:
            out.append([xs.tolist(), ys.tolist()])
    return out
