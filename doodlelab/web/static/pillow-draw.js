/**
 * Pillow's drawing primitives (Pillow 13, src/libImaging/Draw.c), ported pixel for pixel to an 8-bit image,
 * so the page draws a doodle exactly like doodlelab's Python renderer: wide lines, filled circles, pie slices.
 */

// Pillow keeps some values in C `float` (32 bits); Math.fround rounds a JS number the same way.
const f32 = Math.fround;

// Draw.c's ROUND_UP / ROUND_DOWN: round half away from / towards zero. `F` versions for C floats.
const roundUp = (v) => (v >= 0 ? Math.floor(v + 0.5) : -Math.floor(Math.abs(v) + 0.5));
const roundDown = (v) => (v >= 0 ? Math.ceil(v - 0.5) : -Math.ceil(Math.abs(v) - 0.5));
const roundUpF = (v) => (v >= 0 ? Math.floor(f32(v + 0.5)) : -Math.floor(f32(Math.abs(v) + 0.5)));
const roundDownF = (v) => (v >= 0 ? Math.ceil(f32(v - 0.5)) : -Math.ceil(f32(Math.abs(v) - 0.5)));
const roundF = (v) => Math.sign(v) * Math.round(Math.abs(v)); // C roundf / lround: half away from zero

/** A greyscale image: `pixels` is a Uint8Array(width * height), row-major, 0 = black. */
export class GreyImage {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height);
  }

  /** One horizontal run of pixels x0..x1 (inclusive) on row y, clipped to the image (Draw.c hline8). */
  hline(x0, y, x1, ink = 255) {
    if (y < 0 || y >= this.height || x1 < 0 || x0 >= this.width) return;
    const from = Math.max(x0, 0), to = Math.min(x1, this.width - 1);
    if (from <= to) this.pixels.fill(ink, y * this.width + from, y * this.width + to + 1);
  }
}

/** A polygon edge as Draw.c's add_edge stores it (dx, the x step per row, is a C float). */
function edge(x0, y0, x1, y1) {
  return {
    xmin: Math.min(x0, x1), xmax: Math.max(x0, x1), ymin: Math.min(y0, y1), ymax: Math.max(y0, y1),
    dx: y0 === y1 ? 0 : f32((x1 - x0) / (y1 - y0)), x0, y0,
  };
}

/** Fill a polygon given by its edges with Pillow's scan-line algorithm (Draw.c polygon_generic). */
function fillPolygon(im, edges, ink) {
  let ymin = im.height - 1, ymax = 0;
  const table = [];
  for (const e of edges) {
    ymin = Math.min(ymin, e.ymin);
    ymax = Math.max(ymax, e.ymax);
    if (e.ymin === e.ymax) im.hline(e.xmin, e.ymin, e.xmax, ink); // a horizontal edge is a run itself
    else table.push(e);
  }
  ymin = Math.max(ymin, 0);
  ymax = Math.min(ymax, im.height);
  const xAt = (e, y) => f32(f32((y - e.y0) * e.dx) + e.x0); // where edge e crosses row y
  const xx = []; // where the edges cross the current row
  for (let y = ymin; y <= ymax; y++) {
    xx.length = 0;
    for (let i = 0; i < table.length; i++) {
      const current = table[i];
      if (y < current.ymin || y > current.ymax) continue;
      xx.push(xAt(current, y));
      if (y === current.ymax && y < ymax) {
        xx.push(xx[xx.length - 1]); // Pillow: "needed to draw consistent polygons"
      } else if ((y === current.ymin || y === current.ymax) && current.dx !== 0) {
        // Pillow: "connect discontiguous corners" where two sloped edges meet on this row
        for (let k = 0; k < i; k++) {
          const other = table[k];
          if ((y !== other.ymin && y !== other.ymax) || other.dx === 0) continue;
          const last = xx.length - 1;
          if (roundF(xx[last]) !== roundF(xAt(other, y))) continue;
          const next = y === current.ymax ? y - 1 : y + 1;
          const here = xAt(current, next);
          if (next >= other.ymin && next <= other.ymax) {
            const there = xAt(other, next);
            if (xx[last] > f32(here + 1) && xx[last] > f32(there + 1)) {
              xx[last] = f32(roundF(Math.max(here, there)) + 1);
            } else if (xx[last] < f32(here - 1) && xx[last] < f32(there - 1)) {
              xx[last] = f32(roundF(Math.min(here, there)) - 1);
            }
            break;
          }
        }
      }
    }
    xx.sort((a, b) => a - b);
    for (let i = 1; i < xx.length; i += 2) im.hline(roundUpF(xx[i - 1]), y, roundDownF(xx[i]), ink);
  }
}

/**
 * A line `width` pixels wide from (x0, y0) to (x1, y1), integer coordinates, square ends
 * (Draw.c ImagingDrawWideLine): a four-cornered polygon offset (width - 1) / 2 to each side.
 */
export function wideLine(im, x0, y0, x1, y1, width, ink = 255) {
  const dx = x1 - x0, dy = y1 - y0;
  if (dx === 0 && dy === 0) {
    im.hline(x0, y0, x0, ink); // a single point
    return;
  }
  const length = Math.sqrt(dx * dx + dy * dy); // C hypot of two small integers: exact sum, one rounding
  const half = (width - 1) / 2;
  const ratioMax = roundUp(half) / length, ratioMin = roundDown(half) / length;
  const dxmin = roundDown(ratioMin * dy), dxmax = roundDown(ratioMax * dy);
  const dymin = roundDown(ratioMin * dx), dymax = roundDown(ratioMax * dx);
  const v = [[x0 - dxmin, y0 + dymax], [x1 - dxmin, y1 + dymax], [x1 + dxmax, y1 - dymin], [x0 + dxmax, y0 - dymin]];
  fillPolygon(im, v.map((p, i) => edge(...p, ...v[(i + 1) % 4])), ink);
}

/**
 * The points of a quarter ellipse with semi-axes a, b (Draw.c quarter_*), on Pillow's doubled grid
 * (coordinates 2x + a % 2), walked from (a, b % 2) up to (a % 2, b) by Bresenham's rule.
 */
function* quarter(a, b) {
  if (a < 0 || b < 0) return;
  const a2 = a * a, b2 = b * b, a2b2 = a2 * b2;
  const delta = (x, y) => Math.abs(a2 * y * y + b2 * x * x - a2b2);
  let cx = a, cy = b % 2;
  const ex = a % 2, ey = b;
  for (;;) {
    yield [cx, cy];
    if (cx === ex && cy === ey) return;
    let nx = cx, ny = cy + 2, best = delta(nx, ny);
    if (nx > 1) {
      const diagonal = delta(cx - 2, cy + 2);
      if (best > diagonal) [nx, ny, best] = [cx - 2, cy + 2, diagonal];
      if (best > delta(cx - 2, cy)) [nx, ny] = [cx - 2, cy];
    }
    [cx, cy] = [nx, ny];
  }
}

/**
 * Horizontal runs [x0, y, x1] of an ellipse ring `w` points thick with semi-axes a, b, on the doubled grid
 * (Draw.c ellipse_next): between the outer quarter and an inner one; filled when w = a + b.
 */
function* ellipseRuns(a, b, w = a + b) {
  if (w < 1) return;
  const outer = quarter(a, b), inner = quarter(a - 2 * (w - 1), b - 2 * (w - 1));
  const first = outer.next();
  if (first.done) return;
  let [r, y] = first.value;
  const leftmost = a % 2;
  let pl = leftmost;
  for (let finished = false; !finished;) {
    const runY = y, runR = r;
    let l = pl, step;
    while (!(step = outer.next()).done && step.value[1] <= runY);
    if (step.done) finished = true;
    else [r, y] = step.value;
    while (!(step = inner.next()).done && step.value[1] <= runY) l = step.value[0];
    pl = step.done ? leftmost : step.value[0];
    const runs = []; // the row's runs in all four quadrants, mirrored
    if ((l > 0 || l < runR) && runY > 0) runs.push([l === 0 ? 2 : l, runY, runR]);
    if (runY > 0) runs.push([-runR, runY, -l]);
    if (l > 0 || l < runR) runs.push([l === 0 ? 2 : l, -runY, runR]);
    runs.push([-runR, -runY, -l]);
    yield* runs.reverse(); // Pillow pops its buffer of runs from the end
  }
}

/** A filled ellipse in the box (x0, y0)-(x1, y1), integer corners (Draw.c ImagingDrawEllipse, fill=1). */
export function fillEllipse(im, x0, y0, x1, y1, ink = 255) {
  const a = x1 - x0, b = y1 - y0;
  if (a < 0 || b < 0) return;
  for (const [l, y, r] of ellipseRuns(a, b)) {
    im.hline(x0 + Math.trunc((l + a) / 2), y0 + Math.trunc((y + b) / 2), x0 + Math.trunc((r + a) / 2), ink);
  }
}

/**
 * Cut the run l..r of row y by a clipping tree (Draw.c clip_tree_do_clip). Returns the ends of the runs
 * left, sorted, as a flat list [x, kind, x, kind, ...] with kind 1 for a run's start and -1 for its end.
 */
function clipRun(node, l, y, r) {
  if (node.op === "clip") {
    const { a, b, c } = node; // keep the half-plane a x + b y + c >= 0
    if (Math.abs(a) < 1e-9) {
      if (b * y + c < -1e-9) [l, r] = [1, 0];
    } else {
      const ix = -(b * y + c) / a;
      if (a * l + b * y + c < 1e-9) l = roundF(Math.max(l, ix));
      if (a * r + b * y + c < 1e-9) r = roundF(Math.min(r, ix));
    }
    return l <= r ? [l, 1, r, -1] : [];
  }
  // merge the two children's sorted ends, keeping those where the union ("or") / intersection ("and") changes
  const left = clipRun(node.l, l, y, r), right = clipRun(node.r, l, y, r);
  const out = [];
  let k1 = 0, k2 = 0, i = 0, j = 0;
  while (i < left.length || j < right.length) {
    let x, kind;
    if (j >= right.length || (i < left.length &&
        (left[i] < right[j] || (left[i] === right[j] && left[i + 1] > right[j + 1])))) {
      [x, kind] = [left[i], left[i + 1]];
      k1 += kind;
      i += 2;
    } else {
      [x, kind] = [right[j], right[j + 1]];
      k2 += kind;
      j += 2;
    }
    const tail = out.length ? out[out.length - 1] : 0; // kind of the last end kept (0: none yet)
    const opens = kind === 1 && tail !== 1;
    const keep = node.op === "or"
      ? opens || (kind === -1 && k1 === 0 && k2 === 0)
      : (opens && k1 > 0 && k2 > 0) || (kind === -1 && tail === 1 && (k1 === 0 || k2 === 0));
    if (keep) out.push(x, kind);
  }
  return out;
}

/** Pillow's normalize_angles on C floats: 0 <= start < 360, start <= end <= start + 360. */
function normalizeAngles(start, end) {
  if (f32(end - start) >= 360) return [0, 360];
  const fmod = (x, m) => x % m; // JS % on numbers is C fmod
  start = f32(fmod(start < 0 ? 360 - fmod(-start, 360) : start, 360));
  // the differences of two C floats are C floats (rounded) before fmod sees them
  end = f32(start + fmod(end < start ? 360 - fmod(f32(start - end), 360) : f32(end - start), 360));
  return [start, end];
}

/**
 * A filled pie slice of the ellipse in the box (x0, y0)-(x1, y1), from angle `start` to `end` in degrees
 * clockwise from 3 o'clock (Draw.c ImagingDrawPieslice with fill, pie_init): the ellipse's runs cut by the
 * half-planes of its two sides, plus a third one against spikes when the slice is narrower than 90.
 */
export function fillPieslice(im, x0, y0, x1, y1, start, end, ink = 255) {
  [start, end] = normalizeAngles(f32(start), f32(end));
  if (f32(start + 360) === end) return fillEllipse(im, x0, y0, x1, y1, ink);
  if (start === end) return undefined;
  const a = x1 - x0, b = y1 - y0;
  if (a < 0 || b < 0) return undefined;
  const rad = Math.PI / 180;
  const xl = a * Math.cos(start * rad), xr = a * Math.cos(end * rad);
  const yl = b * Math.sin(start * rad), yr = b * Math.sin(end * rad);
  const narrow = f32(end - start) < 180;
  let root = { op: narrow ? "and" : "or", l: { op: "clip", a: -yl, b: xl, c: 0 }, r: { op: "clip", a: yr, b: -xr, c: 0 } };
  if (f32(end - start) < 90) root = { op: "and", l: root, r: { op: "clip", a: (xl + xr) / 2, b: (yl + yr) / 2, c: 0 } };
  for (const [l, y, r] of ellipseRuns(a, b)) {
    const ends = clipRun(root, l, y, r);
    for (let i = 0; i < ends.length; i += 4) {
      im.hline(x0 + Math.trunc((ends[i] + a) / 2), y0 + Math.trunc((y + b) / 2),
        x0 + Math.trunc((ends[i + 2] + a) / 2), ink);
    }
  }
  return undefined;
}
