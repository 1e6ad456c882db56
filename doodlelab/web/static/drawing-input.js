/**
 * Step 0 of the browser's stroke pipeline (pipeline.js): read a drawing in the API's stroke format and refuse
 * bad input with the server's limits (doodlelab/data/limits.py) and messages (strokes.parse_strokes).
 */

// The input limits of doodlelab/data/limits.py (the server's and the CLI's): same numbers, same messages.
export const LIMITS = Object.freeze({
  maxStrokes: 1_000, // strokes in one drawing
  maxPoints: 100_000, // points in one drawing, all strokes together
  maxCoordinate: 1e6, // |x| and |y| at most this, in canvas units
  maxTimestamp: 1e13, // timestamps: 0 <= t <= this, in milliseconds
  minExtent: 1e-3, // a drawing spans 0 (a dot) or at least this many units
  maxInkLength: 500_000, // total stroke length once scaled to the 255 box (bounds the resampling work)
  maxSize: 1_024, // largest bitmap side `render` draws (browser memory: (size * 10)^2 bytes at most)
});

const SIMPLIFIED_MAX = 255; // simplified coordinates are integers 0..255

/** Thrown for a drawing the pipeline refuses; `message` says which stroke and which limit. */
export class DrawingError extends Error {
  constructor(message) {
    super(message);
    this.name = "DrawingError";
  }
}

const isList = (v) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
const thousands = (n) => n.toLocaleString("en-US"); // 500000 -> "500,000", as Python's f"{n:,}"

/** NumPy's np.round: halves go to the even neighbour (2.5 -> 2, 3.5 -> 4), unlike Math.round. */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ------------------------------------------------------------------ 0. read and check the drawing

/**
 * Check the API's stroke format, `[xs, ys]` or `[xs, ys, ts]` per stroke, against LIMITS (as Python's
 * parse_strokes). Returns the strokes as `[xs, ys]` arrays of numbers, timestamps and empty strokes dropped.
 * Throws a DrawingError naming the stroke and the limit for anything else.
 */
export function parseDrawing(drawing) {
  if (!isList(drawing) || drawing.length === 0) throw new DrawingError("drawing must be a non-empty list of strokes");
  if (drawing.length > LIMITS.maxStrokes) {
    throw new DrawingError(`drawing has ${drawing.length} strokes (limit ${LIMITS.maxStrokes})`);
  }
  const strokes = [];
  let total = 0;
  for (let i = 0; i < drawing.length; i++) {
    const stroke = drawing[i];
    if (!isList(stroke) || (stroke.length !== 2 && stroke.length !== 3)) {
      throw new DrawingError(`stroke ${i} must be [[xs], [ys]] or [[xs], [ys], [ts]]`);
    }
    const [xs, ys, ts] = stroke;
    if (!isList(xs) || !isList(ys) || xs.length !== ys.length) {
      throw new DrawingError(`stroke ${i}: xs and ys must be lists of equal length`);
    }
    if (stroke.length === 3 && (!isList(ts) || ts.length !== xs.length)) {
      throw new DrawingError(`stroke ${i}: timestamps must be a list as long as xs`);
    }
    total += xs.length;
    if (total > LIMITS.maxPoints) {
      throw new DrawingError(`drawing has more than ${LIMITS.maxPoints} points (limit ${LIMITS.maxPoints})`);
    }
    if (xs.length === 0) continue;
    const x = numbers(xs, i, "coordinates"), y = numbers(ys, i, "coordinates");
    if (Math.max(maxAbs(x), maxAbs(y)) > LIMITS.maxCoordinate) {
      throw new DrawingError(`stroke ${i}: coordinates out of range (limit ±${thousands(LIMITS.maxCoordinate)})`);
    }
    if (stroke.length === 3) {
      const t = numbers(ts, i, "timestamps");
      if (t.some((v) => v < 0 || v > LIMITS.maxTimestamp)) {
        throw new DrawingError(`stroke ${i}: timestamps out of range (limit 0 to 1e+13 ms)`);
      }
    }
    strokes.push([x, y]);
  }
  if (strokes.length === 0) throw new DrawingError("drawing has no points");
  checkGeometry(strokes);
  return strokes;
}

/** A stroke's list of numbers as a plain Array; DrawingError for non-numbers, NaN and infinities. */
function numbers(values, i, what) {
  const out = Array.from(values);
  if (!out.every((v) => typeof v === "number")) throw new DrawingError(`stroke ${i}: ${what} must be numbers`);
  if (!out.every(Number.isFinite)) throw new DrawingError(`stroke ${i}: ${what} must be finite (no NaN or infinity)`);
  return out;
}

const maxAbs = (values) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The smallest and largest x and y of all strokes: {minX, minY, maxX, maxY}. */
export function bounds(strokes) {
  const box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const [xs, ys] of strokes) {
    for (let j = 0; j < xs.length; j++) {
      box.minX = Math.min(box.minX, xs[j]);
      box.maxX = Math.max(box.maxX, xs[j]);
      box.minY = Math.min(box.minY, ys[j]);
      box.maxY = Math.max(box.maxY, ys[j]);
    }
  }
  return box;
}

/** Refuse a drawing narrower than minExtent (but not a dot) or one with far too much ink (its resampling
 * would take too long): the total stroke length, scaled to the 255 box, is at most maxInkLength. */
function checkGeometry(strokes) {
  const box = bounds(strokes);
  const extent = Math.max(box.maxX - box.minX, box.maxY - box.minY);
  if (extent > 0 && extent < LIMITS.minExtent) {
    throw new DrawingError(`drawing too small (spans less than ${LIMITS.minExtent} units)`);
  }
  let length = 0;
  for (const [xs, ys] of strokes) {
    for (let j = 1; j < xs.length; j++) length += Math.hypot(xs[j] - xs[j - 1], ys[j] - ys[j - 1]);
  }
  if (extent > 0 && (length * SIMPLIFIED_MAX) / extent > LIMITS.maxInkLength) {
    throw new DrawingError(`drawing too long (strokes, scaled to the ${SIMPLIFIED_MAX} box, longer than ` +
      `${thousands(LIMITS.maxInkLength)} units)`);
  }
}

/** True when every stroke carries a third array (timestamps): the raw format of a canvas. */
export function hasTimestamps(drawing) {
  return isList(drawing) && drawing.length > 0 && Array.from(drawing).every((s) => isList(s) && s.length === 3);
}

