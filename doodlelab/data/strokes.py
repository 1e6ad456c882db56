"""The one stroke pipeline: raw canvas strokes -> simplified strokes -> bitmaps like Google's numpy_bitmap.

Training, evaluation, the CLI and the web server all call these pure functions, so a drawing is prepared
the same way wherever it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from doodlelab.data.limits import (
    MAX_COORDINATE,
    MAX_INK_LENGTH,
    MAX_POINTS,
    MAX_STROKES,
    MAX_TIMESTAMP,
    MIN_EXTENT,
    coordinate_range,
)
from doodlelab.errors import DataError

# A drawing is a list of strokes; a stroke is an (n, 2) float array of (x, y) points.
Strokes = list[np.ndarray]

# Geometry of Google's renderer: strokes in a 256 box, lines 16 wide, 16 units of padding per side
# plus half a line width, so the full canvas spans 256 + 2 * 16 + 16 = 304 units.
CANVAS = 256.0
LINE_WIDTH = 16.0
PADDING = 16.0
RDP_EPSILON = 2.0
SIMPLIFIED_MAX = 255

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
    _check_geometry(strokes)
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
    seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
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
    """RDP on several polylines at once: each round splits every open segment of every polyline at its
    farthest inner point (the first, on ties) if that point is farther than `epsilon`. The result does not
    depend on the order segments are split in, so a round can treat them all with one set of array
    operations (no recursion limit, a few dozen NumPy calls per drawing). [(n_i, 2)] -> [(m_i, 2)]."""
    if not polylines:
        return []
    sizes = [len(p) for p in polylines]
    points = np.concatenate(polylines)
    firsts = np.cumsum([0, *sizes[:-1]])
    keep = np.zeros(len(points), dtype=bool)
    nonempty = np.asarray(sizes) > 0
    starts, ends = firsts[nonempty], (firsts + np.asarray(sizes) - 1)[nonempty]  # open segments
    keep[starts] = keep[ends] = True
    x, y = points[:, 0], points[:, 1]
    while True:
        wide = ends - starts >= 2  # segments with inner points
        starts, ends = starts[wide], ends[wide]
        if not len(starts):
            break
        counts = ends - starts - 1
        owner = np.repeat(np.arange(len(starts)), counts)  # segment of each inner point
        offsets = np.cumsum(counts) - counts
        inner = np.arange(counts.sum()) - offsets[owner] + starts[owner] + 1
        ax, ay = x[starts], y[starts]
        abx, aby = x[ends] - ax, y[ends] - ay
        norm = np.array([math.hypot(u, v) for u, v in zip(abx.tolist(), aby.tolist())])[owner]
        dx, dy = x[inner] - ax[owner], y[inner] - ay[owner]
        with np.errstate(divide="ignore", invalid="ignore"):  # closed loops (norm 0) are replaced below
            dist = np.abs(abx[owner] * dy - aby[owner] * dx) / norm  # perpendicular distance to line ab
        loop = norm == 0
        dist[loop] = np.sqrt(dx[loop] * dx[loop] + dy[loop] * dy[loop])  # closed loop: distance to a
        farthest = np.maximum.reduceat(dist, offsets)
        ties = np.flatnonzero(dist == farthest[owner])
        first = ties[np.concatenate([[True], owner[ties][1:] != owner[ties][:-1]])]  # one per segment
        split = farthest > epsilon
        mid = inner[first][split]
        keep[mid] = True
        starts, ends = np.concatenate([starts[split], mid]), np.concatenate([mid, ends[split]])
    return [points[a : a + n][keep[a : a + n]] for a, n in zip(firsts.tolist(), sizes)]


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
    scale = 1.0 if dot else SIMPLIFIED_MAX / extent
    out: Strokes = []
    for simple in rdp_many([resample((stroke - origin) * scale) for stroke in strokes], RDP_EPSILON):
        simple = np.round(simple)
        # rounding can make neighbours equal; drop exact repeats (keep at least one point)
        if len(simple) > 1:
            repeat = np.all(simple[1:] == simple[:-1], axis=1)
            simple = np.concatenate([simple[:1], simple[1:][~repeat]])
        out.append(np.clip(simple, 0, SIMPLIFIED_MAX))
    return out


def render(strokes: Sequence[np.ndarray], size: int = 28, supersample: int | None = None) -> np.ndarray:
    """Simplified strokes -> (size, size) uint8 bitmap, 0 background and 255 ink, like numpy_bitmap.

    Lines are 16 units wide with round caps and joins on a 256 box, centred on the drawing's bounding
    box inside 24 units of margin; drawn `supersample` times larger, then box-downsampled, which gives
    the area-coverage antialiasing of Google's renderer.
    """
    if size < 1:
        raise ValueError("size must be positive")
    k = supersample or max(2, math.ceil(280 / size))
    side = size * k
    scale = side / (CANVAS + 2 * PADDING + LINE_WIDTH)
    margin = PADDING + LINE_WIDTH / 2
    points = np.concatenate(strokes)
    offset = (CANVAS - (points.min(axis=0) + points.max(axis=0))) / 2  # centre the bounding box
    width = LINE_WIDTH * scale
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image).draw  # Pillow's drawing core: the primitives ImageDraw's methods call
    ink = draw.draw_ink(255)
    r = width / 2
    for stroke in strokes:
        xy = (stroke + offset + margin) * scale
        coords = [tuple(p) for p in xy.tolist()]
        if len(coords) > 1:
            _polyline(draw, ink, coords, max(1, round(width)))
        for x, y in (coords[0], coords[-1]):  # round caps (and dots for one-point strokes)
            draw.draw_ellipse((x - r, y - r, x + r, y + r), ink, 1)
    # the mean of each k x k block: sum k rows at a time (contiguous adds), then k columns
    rows = np.asarray(image).reshape(size, k, side).sum(axis=1, dtype=np.uint32)  # (size, side)
    sums = rows.reshape(size, size, k).sum(axis=2)  # (size, size)
    return np.round(sums / (k * k)).astype(np.uint8)


def _polyline(draw, ink: int, coords: list[tuple[float, float]], width: int) -> None:
    """Pixels of Pillow's `ImageDraw.line(coords, width=width, joint="curve")` (as in Pillow 13), drawn with
    the same primitives and float arithmetic, minus its per-joint Python overhead: the segments, then at
    each bend a pie slice rounding the joint and, for lines wider than 8, thin lines closing the gaps."""
    draw.draw_lines(coords, ink, width)
    if width <= 4:
        return
    # heading of each segment, in degrees clockwise from "up" (Pillow's convention)
    headings = [math.degrees(math.atan2(b[0] - a[0], a[1] - b[1])) % 360 for a, b in zip(coords, coords[1:])]
    reach = width / 2 - 1

    def towards(point: tuple[float, float], angle: float) -> tuple[float, float]:
        angle -= 90
        dx, dy = reach * math.cos(math.radians(angle)), reach * math.sin(math.radians(angle))
        return (
            point[0] + (math.floor(dx) if dx > 0 else math.ceil(dx)),
            point[1] + (math.floor(dy) if dy > 0 else math.ceil(dy)),
        )

    for point, a0, a1 in zip(coords[1:-1], headings, headings[1:]):
        if a0 == a1:  # straight on: no joint
            continue
        flipped = (a1 > a0 and a1 - 180 > a0) or (a1 < a0 and a1 + 180 > a0)
        start, end = (a1 + 90, a0 + 90) if flipped else (a0 - 90, a1 - 90)
        box = (
            (point[0] - width / 2 + 1, point[1] - width / 2 + 1),
            (point[0] + width / 2 - 1, point[1] + width / 2 - 1),
        )
        draw.draw_pieslice(box, start - 90, end - 90, ink, 1)
        if width > 8:
            turn = 90 if flipped else -90
            draw.draw_lines([towards(point, a0 + turn), point, towards(point, a1 + turn)], ink, 3)


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
