// The digits model in the browser: the NumPy MLP (doodlelab/scratch) read straight from its .npz file and
// run as three matrix products, after the server's preprocessing of a drawing (pipeline.js's 28 x 28
// bitmap, then MNIST's layout: doodlelab.data.images.mnist_layout). An ES module without dependencies.

const FIELD = 28; // MNIST images are 28 x 28 ...
const BOX = 20; // ... with the digit scaled so that its longer side is 20 pixels
const INV255 = Math.fround(1 / 255); // to_input's float32 scale of the pixels

// ---- reading an .npz: a zip of .npy files, stored without compression (numpy.savez) ---------------------

function zipEntries(bytes) {
  // name -> Uint8Array of an entry, from the zip's central directory
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22; // the end-of-central-directory record, found from the back
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end -= 1;
  if (end < 0) throw new Error("not an .npz file (no zip directory)");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("not an .npz file (bad zip directory)");
    const method = view.getUint16(at + 10, true);
    const size = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const skip = nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    if (method !== 0) throw new Error(`${name}: compressed .npz entries are not supported (use numpy.savez)`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    entries.set(name.replace(/\.npy$/, ""), bytes.subarray(start, start + size));
    at += 46 + skip;
  }
  return entries;
}

function float16(h) {
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function readNpy(name, bytes) {
  // One .npy array -> {shape, data: Float32Array (floats) or Array (integers)}, little-endian only.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const offset = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(offset, offset + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) throw new Error(`${name}: unreadable .npy`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLength;
  const data = new DataView(bytes.buffer, bytes.byteOffset + start, bytes.byteLength - start);
  const read = {
    "<f2": (i) => float16(data.getUint16(2 * i, true)), "<f4": (i) => data.getFloat32(4 * i, true),
    "<f8": (i) => data.getFloat64(8 * i, true), "<i8": (i) => Number(data.getBigInt64(8 * i, true)),
  };
  const at = read[descr[1]];
  if (!at) throw new Error(`${name}: dtype ${descr[1]} is not supported`);
  const values = descr[1].startsWith("<i") ? new Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = at(i);
  return { shape: dims, data: values };
}

/** The network of a doodlelab-mlp/1 .npz: {sizes, layers: [{W (nIn * nOut, row-major), b (nOut), nIn,
 * nOut}]}, float16 weights widened to Float32Array as numpy's astype(float32) does. */
export function parseNpz(buffer) {
  const entries = zipEntries(new Uint8Array(buffer));
  const array = (key) => {
    if (!entries.has(key)) throw new Error(`the .npz file has no array ${key}`);
    return readNpy(key, entries.get(key));
  };
  const sizes = array("sizes").data;
  const layers = sizes.slice(1).map((nOut, i) => {
    const nIn = sizes[i], W = array(`W${i}`), b = array(`b${i}`);
    if (W.data.length !== nIn * nOut || b.data.length !== nOut) {
      throw new Error(`the .npz arrays W${i}, b${i} do not match sizes ${sizes.join(", ")}`);
    }
    return { W: W.data, b: b.data, nIn, nOut };
  });
  return { sizes, layers };
}

/** x (nIn) -> logits (nOut): Linear, ReLU, ..., Linear (y = x @ W + b, as doodlelab.scratch.layers). */
export function forward(layers, x) {
  let h = Float64Array.from(x);
  layers.forEach(({ W, b, nIn, nOut }, k) => {
    const y = Float64Array.from(b);
    for (let i = 0; i < nIn; i++) {
      const xi = h[i];
      if (xi === 0) continue; // most pixels, and every unit ReLU switched off
      const row = i * nOut;
      for (let j = 0; j < nOut; j++) y[j] += xi * W[row + j];
    }
    if (k < layers.length - 1) for (let j = 0; j < nOut; j++) y[j] = Math.max(0, y[j]); // ReLU
    h = y;
  });
  return h;
}

export function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// ---- MNIST's layout of a drawing, as doodlelab.data.images.mnist_layout with Pillow's Lanczos -----------

const roundHalfEven = (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x)); // Python's

function sinc(x) {
  if (x === 0) return 1;
  return Math.sin(Math.PI * x) / (Math.PI * x);
}
const lanczos = (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0);

function coefficients(inSize, outSize) {
  // Pillow's precompute_coeffs: for each output pixel, its first input pixel and normalised weights.
  const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = 3 * filterScale;
  return Array.from({ length: outSize }, (_, xx) => {
    const center = (xx + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = [];
    for (let x = first; x < last; x++) w.push(lanczos((x - center + 0.5) / filterScale));
    const total = w.reduce((a, b) => a + b, 0);
    return { first, w: total ? w.map((v) => v / total) : w };
  });
}

function resize(image, w, h, outW, outH) {
  // Pillow's Image.resize(LANCZOS) of a float ("F") image: horizontal pass, then vertical, float32 between.
  let src = image, width = w;
  if (outW !== w) {
    const cx = coefficients(w, outW), tmp = new Float32Array(outW * h);
    for (let y = 0; y < h; y++) {
      cx.forEach(({ first, w: k }, x) => {
        let s = 0;
        k.forEach((v, i) => { s += src[y * width + first + i] * v; });
        tmp[y * outW + x] = s;
      });
    }
    src = tmp;
    width = outW;
  }
  if (outH === h) return src;
  const cy = coefficients(h, outH), out = new Float32Array(width * outH);
  cy.forEach(({ first, w: k }, y) => {
    for (let x = 0; x < width; x++) {
      let s = 0;
      k.forEach((v, i) => { s += src[(first + i) * width + x] * v; });
      out[y * width + x] = s;
    }
  });
  return out;
}

/** A 28 x 28 bitmap (Uint8Array, 0 = background, 255 = ink) -> the digit in MNIST's layout, the same bytes
 * as the server's: crop to the ink, Lanczos-resize so the longer side is 20 px, rescale to a maximum of 1,
 * and paste into 28 x 28 with the centre of mass at (14, 14). Throws on a blank bitmap. */
export function mnistLayout(bitmap, size = FIELD) {
  const ink = Float32Array.from(bitmap, (v) => Math.fround(v / 255));
  let top = size, bottom = -1, left = size, right = -1;
  ink.forEach((v, i) => {
    if (v <= 0) return;
    const y = Math.floor(i / size), x = i % size;
    top = Math.min(top, y);
    bottom = Math.max(bottom, y);
    left = Math.min(left, x);
    right = Math.max(right, x);
  });
  if (bottom < 0) throw new Error("the drawing has no ink to read");
  const h = bottom - top + 1, w = right - left + 1;
  const crop = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = ink[(top + y) * size + left + x];
  const scale = BOX / Math.max(h, w);
  const outW = Math.max(1, roundHalfEven(w * scale)), outH = Math.max(1, roundHalfEven(h * scale));
  const small = resize(crop, w, h, outW, outH).map((v) => Math.max(v, 0));
  const peak = Math.max(...small);
  if (peak > 0) small.forEach((v, i) => { small[i] = Math.fround(v / peak); });
  let total = 0, sy = 0, sx = 0;
  small.forEach((v, i) => { total += v; sy += Math.floor(i / outW) * v; sx += (i % outW) * v; });
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const y0 = clamp(roundHalfEven(FIELD / 2 - sy / total), FIELD - outH);
  const x0 = clamp(roundHalfEven(FIELD / 2 - sx / total), FIELD - outW);
  const field = new Uint8Array(FIELD * FIELD);
  small.forEach((v, i) => {
    const y = y0 + Math.floor(i / outW), x = x0 + (i % outW);
    field[y * FIELD + x] = roundHalfEven(Math.fround(Math.min(Math.max(v, 0), 1) * 255));
  });
  return field;
}

/** The shipped digit reader: `await DigitReader.load(url)`, then `classify(bitmap28, {top})`. */
export class DigitReader {
  constructor(network, classes) {
    this.layers = network.layers;
    this.classes = classes || Array.from({ length: network.sizes.at(-1) }, (_, i) => String(i));
  }

  static async load(url, classes) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot load the digits model (${response.status} from ${url})`);
    return new DigitReader(parseNpz(await response.arrayBuffer()), classes);
  }

  /** Probabilities (10) of a 28 x 28 bitmap of the drawing (pipeline.js's rasterize). */
  probabilities(bitmap) {
    const digit = mnistLayout(bitmap);
    const x = Float32Array.from(digit, (v) => Math.fround(v * INV255)); // to_input: (784,) in [0, 1]
    return softmax(Array.from(forward(this.layers, x)));
  }

  classify(bitmap, { top = 5 } = {}) {
    const p = this.probabilities(bitmap);
    const order = p.map((v, i) => i).sort((a, b) => p[b] - p[a] || a - b);
    return order.slice(0, top).map((i) => ({ category: this.classes[i], probability: p[i] }));
  }
}
