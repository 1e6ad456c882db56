/**
 * The stroke pipeline in the browser: raw canvas strokes -> simplified strokes -> 28x28 bitmap, step for step
 * the same as doodlelab/data/strokes.py, so a drawing gets the same bitmap here as on the server.
 */
import { bounds, DrawingError, hasTimestamps, LIMITS, parseDrawing, roundHalfEven } from "./drawing-input.js";
import { fillEllipse, fillPieslice, GreyImage, wideLine } from "./pillow-draw.js";

export { DrawingError, hasTimestamps, LIMITS, parseDrawing };

// A drawing is a list of strokes; a stroke is `[xs, ys]`, two arrays of numbers of one length.

// Geometry of Google's renderer: strokes in a 256 box, lines 16 wide, 16 units of padding per side plus
// half a line width, so the whole canvas spans 256 + 2 * 16 + 16 = 304 units.
const CANVAS = 256, LINE_WIDTH = 16, PADDING = 16;
const RDP_EPSILON = 2; // Quick, Draw!'s simplification tolerance
const SIMPLIFIED_MAX = 255; // simplified coordinates are integers 0..255

/**
 * True when strokes look like the simplified format: integers in 0..255, aligned to the top-left and
 * spanning the box (resampling can cut corners, so real files reach min <= 3 and max >= 245).
 */
export function isSimplified(strokes) {
  if (!strokes.every(([xs, ys]) => xs.every(Number.isInteger) && ys.every(Number.isInteger))) return false;
  const box = bounds(strokes);
  if (Math.max(box.maxX, box.maxY) > SIMPLIFIED_MAX) return false;
  return Math.max(box.minX, box.minY) <= 3 && Math.max(box.maxX, box.maxY) >= 245;
}

// ------------------------------------------------------------------ 1. simplify, as Quick, Draw! did
// The dataset's README ("Preprocessed dataset", github.com/googlecreativelab/quickdraw-dataset) lists the
// steps from raw to simplified: align to the top-left, scale the longer side to 255, resample every stroke
// with 1-pixel spacing, simplify with Ramer-Douglas-Peucker at epsilon 2.0.

/** Points every `spacing` units of arc length along the polyline xs, ys (ends kept), as np.interp does. */
export function resample(xs, ys, spacing = 1) {
  const n = xs.length;
  if (n < 2) return [xs.slice(), ys.slice()];
  const arc = [0]; // distance along the stroke to each point
  for (let i = 1; i < n; i++) {
    const dx = xs[i] - xs[i - 1], dy = ys[i] - ys[i - 1];
    arc.push(arc[i - 1] + Math.sqrt(dx * dx + dy * dy));
  }
  const length = arc[n - 1];
  if (length === 0) return [[xs[0]], [ys[0]]];
  const targets = Array.from({ length: Math.ceil(length / spacing) }, (_, i) => i * spacing);
  if (length - targets[targets.length - 1] > 1e-9) targets.push(length);
  const outX = [], outY = [];
  let j = 0; // the segment arc[j] <= t < arc[j + 1] (the last of equal arcs, like NumPy's search)
  for (const t of targets) {
    while (j < n - 1 && arc[j + 1] <= t) j++;
    if (j === n - 1 || arc[j] === t) {
      outX.push(xs[j]);
      outY.push(ys[j]);
    } else {
      const span = arc[j + 1] - arc[j];
      outX.push(((xs[j + 1] - xs[j]) / span) * (t - arc[j]) + xs[j]);
      outY.push(((ys[j + 1] - ys[j]) / span) * (t - arc[j]) + ys[j]);
    }
  }
  return [outX, outY];
}

/**
 * Ramer-Douglas-Peucker (1973): keep a polyline's ends; split at the inner point farthest from the line
 * between them (the first, on ties) if it is farther than `epsilon`, and repeat on both halves.
 * Returns [xs, ys] of the kept points. An explicit stack instead of recursion: long strokes cannot overflow.
 */
export function rdp(xs, ys, epsilon = RDP_EPSILON) {
  const n = xs.length;
  if (n === 0) return [[], []];
  const x = Float64Array.from(xs), y = Float64Array.from(ys); // typed arrays: the inner loop stays fast
  const keep = new Uint8Array(n);
  keep[0] = keep[n - 1] = 1;
  const open = [0, n - 1]; // pairs (a, b) of polyline pieces still to examine
  while (open.length) {
    const b = open.pop(), a = open.pop();
    if (b - a < 2) continue;
    const abx = x[b] - x[a], aby = y[b] - y[a];
    const norm = Math.hypot(abx, aby);
    let far = -1, farthest = -1;
    for (let i = a + 1; i < b; i++) {
      const dx = x[i] - x[a], dy = y[i] - y[a];
      // distance to the line a-b; to the point a itself when the stroke returns to where it started
      const d = norm === 0 ? Math.sqrt(dx * dx + dy * dy) : Math.abs(abx * dy - aby * dx) / norm;
      if (d > farthest) {
        far = i;
        farthest = d;
      }
    }
    if (farthest > epsilon) {
      keep[far] = 1;
      open.push(a, far, far, b);
    }
  }
  return [xs.filter((_, i) => keep[i]), ys.filter((_, i) => keep[i])];
}

/**
 * Raw strokes -> simplified strokes: integer coordinates in 0..255, as in the dataset's simplified files.
 * 1. align to the top-left so the minimum x and y are 0; 2. scale uniformly so the longer side is 255;
 * 3. resample every stroke at 1-unit spacing; 4. RDP with epsilon 2; round (halves to even, like NumPy).
 */
export function simplify(strokes) {
  const box = bounds(strokes);
  const extent = Math.max(box.maxX - box.minX, box.maxY - box.minY);
  const largest = Math.max(1, ...[box.minX, box.minY, box.maxX, box.maxY].map(Math.abs));
  const scale = extent <= 1e-9 * largest ? 1 : SIMPLIFIED_MAX / extent; // a dot stays a dot
  return strokes.map(([xs, ys]) => {
    const [rx, ry] = resample(xs.map((x) => (x - box.minX) * scale), ys.map((y) => (y - box.minY) * scale));
    const [sx, sy] = rdp(rx, ry, RDP_EPSILON);
    const outX = [], outY = [];
    for (let i = 0; i < sx.length; i++) {
      const x = roundHalfEven(sx[i]), y = roundHalfEven(sy[i]);
      const n = outX.length; // rounding can make neighbours equal: drop exact repeats
      if (n === 0 || x !== outX[n - 1] || y !== outY[n - 1]) {
        outX.push(x);
        outY.push(y);
      }
    }
    return [outX.map(clip), outY.map(clip)];
  });
}

const clip = (v) => Math.min(Math.max(v, 0), SIMPLIFIED_MAX) + 0; // "+ 0" turns -0 into 0

// ------------------------------------------------------------------ 2. render, as numpy_bitmap was made
// Google drew the simplified strokes with lines 16 wide on a 256 box, centred with padding, and shrank the
// picture to 28x28 with antialiasing. doodlelab draws with Pillow `supersample` times larger and averages
// each k x k block (area coverage); pillow-draw.js repeats Pillow's pixels exactly.

/**
 * Simplified strokes -> Uint8Array(size * size) bitmap, row-major, 0 background and 255 ink.
 * Lines are 16 units wide with round caps and joins, centred on the drawing's bounding box.
 */
export function render(strokes, size = 28, supersample = undefined) {
  if (!Number.isInteger(size) || size < 1 || size > LIMITS.maxSize) {
    throw new DrawingError(`size must be an integer from 1 to ${LIMITS.maxSize}`);
  }
  const k = supersample ?? Math.max(2, Math.ceil(280 / size));
  const side = size * k;
  const scale = side / (CANVAS + 2 * PADDING + LINE_WIDTH);
  const margin = PADDING + LINE_WIDTH / 2;
  const box = bounds(strokes);
  const offsetX = (CANVAS - (box.minX + box.maxX)) / 2, offsetY = (CANVAS - (box.minY + box.maxY)) / 2;
  const width = LINE_WIDTH * scale, r = width / 2;
  const image = new GreyImage(side, side);
  for (const [xs, ys] of strokes) {
    const px = xs.map((x) => (x + offsetX + margin) * scale), py = ys.map((y) => (y + offsetY + margin) * scale);
    if (px.length > 1) polyline(image, px, py, Math.max(1, roundHalfEven(width)));
    for (const i of [0, px.length - 1]) { // round caps (and a dot for a one-point stroke)
      fillEllipse(image, Math.trunc(px[i] - r), Math.trunc(py[i] - r), Math.trunc(px[i] + r), Math.trunc(py[i] + r));
    }
  }
  return downsample(image.pixels, size, k);
}

/** The mean of each k x k block of a (size * k)^2 image, rounded halves to even. -> Uint8Array(size^2). */
function downsample(pixels, size, k) {
  const side = size * k, sums = new Uint32Array(size * size);
  for (let y = 0; y < side; y++) {
    const out = Math.floor(y / k) * size; // the output row this image row adds to
    for (let bx = 0, p = y * side; bx < size; bx++) {
      let sum = 0;
      for (let i = 0; i < k; i++) sum += pixels[p++];
      sums[out + bx] += sum;
    }
  }
  return Uint8Array.from(sums, (sum) => roundHalfEven(sum / (k * k)));
}

/**
 * Pillow's `ImageDraw.line(points, width, joint="curve")` (what strokes.py draws with): each segment a
 * wide line between truncated integer points, then at each bend a pie slice rounding the outer corner and,
 * for lines wider than 8, two thin lines closing the gaps between slice and segments.
 */
function polyline(image, xs, ys, width) {
  for (let i = 1; i < xs.length; i++) {
    wideLine(image, Math.trunc(xs[i - 1]), Math.trunc(ys[i - 1]), Math.trunc(xs[i]), Math.trunc(ys[i]), width);
  }
  if (width <= 4) return;
  // heading of each segment, in degrees clockwise from "up" (Pillow's convention)
  const headings = [];
  for (let i = 1; i < xs.length; i++) {
    headings.push(pythonMod(Math.atan2(xs[i] - xs[i - 1], ys[i - 1] - ys[i]) * (180 / Math.PI), 360));
  }
  const reach = width / 2 - 1;
  const towards = (x, y, angle) => { // a point `reach` from (x, y) in that direction, integer steps
    const rad = (angle - 90) * (Math.PI / 180);
    return [x + Math.trunc(reach * Math.cos(rad)), y + Math.trunc(reach * Math.sin(rad))];
  };
  for (let i = 1; i < xs.length - 1; i++) {
    const [a0, a1, x, y] = [headings[i - 1], headings[i], xs[i], ys[i]];
    if (a0 === a1) continue; // straight on: no joint
    const flipped = (a1 > a0 && a1 - 180 > a0) || (a1 < a0 && a1 + 180 > a0);
    const [start, end] = flipped ? [a1 + 90, a0 + 90] : [a0 - 90, a1 - 90];
    const [lo, hi] = [(v) => Math.trunc(v - width / 2 + 1), (v) => Math.trunc(v + width / 2 - 1)];
    fillPieslice(image, lo(x), lo(y), hi(x), hi(y), start - 90, end - 90);
    if (width > 8) {
      const turn = flipped ? 90 : -90;
      const [p, q] = [towards(x, y, a0 + turn), towards(x, y, a1 + turn)];
      wideLine(image, Math.trunc(p[0]), Math.trunc(p[1]), Math.trunc(x), Math.trunc(y), 3);
      wideLine(image, Math.trunc(x), Math.trunc(y), Math.trunc(q[0]), Math.trunc(q[1]), 3);
    }
  }
}

/** Python's `a % m` for floats: the result takes the sign of m (JS `%` takes the sign of a). */
function pythonMod(a, m) {
  const r = a % m;
  return r !== 0 && (r < 0) !== (m < 0) ? r + m : r;
}

// ------------------------------------------------------------------ 3. the whole pipeline

/**
 * A drawing in the API's stroke format (raw canvas floats with or without timestamps, or simplified) ->
 * Uint8Array(size * size), row-major, 0 background and 255 ink: the same bitmap as Python's
 * `strokes.rasterize(parse_strokes(drawing), size, raw=True if timestamps else None)`, i.e. the server's.
 */
export function rasterize(drawing, size = 28) {
  const strokes = parseDrawing(drawing);
  const raw = hasTimestamps(drawing) || !isSimplified(strokes);
  return render(raw ? simplify(strokes) : strokes, size);
}
