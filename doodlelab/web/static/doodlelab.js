/**
 * doodlelab.js: name Quick, Draw! doodles in the browser with doodlelab's classifier and ONNX Runtime Web.
 * An ES module without a build step; it needs pipeline.js and vendor/onnxruntime-web/ beside it.
 *
 *   import { Recognizer } from "./doodlelab.js";
 *   const recognizer = await Recognizer.load("models/");        // classifier.int8.onnx + its card
 *   const guesses = await recognizer.classify(strokes, { top: 3 });
 *   // [{ category: "bicycle", probability: 0.93 }, ...], calibrated like the server
 *
 * `strokes` is the API's drawing format: an array of strokes [xs, ys] (simplified, 0..255) or
 * [xs, ys, ts] (raw canvas pixels with times in ms). Bad input throws an Error that says what is wrong.
 */

import { rasterize } from "./pipeline.js";

const HERE = new URL(".", import.meta.url);
const ORT_DIR = new URL("vendor/onnxruntime-web/", HERE); // vendored by scripts/vendor_onnxruntime_web.py
export const MODELS = { int8: "classifier.int8.onnx", float: "classifier.onnx" }; // under baseUrl

let ortModule = null;

/** ONNX Runtime Web from the vendored files: WebAssembly on one thread (no cross-origin isolation needed). */
function loadOrt() {
  ortModule ??= import(new URL("ort.wasm.bundle.min.mjs", ORT_DIR).href).then((ort) => {
    ort.env.wasm.wasmPaths = { wasm: new URL("ort-wasm-simd-threaded.wasm", ORT_DIR).href };
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = "error";
    return ort;
  });
  return ortModule;
}

/** The URL of `name` under `baseUrl` (a folder; relative URLs are resolved against the page). */
function under(baseUrl, name) {
  const base = new URL(String(baseUrl), globalThis.location?.href);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return new URL(name, base).href;
}

async function fetchOk(url, kind) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url} (HTTP ${response.status})`);
  return kind === "json" ? response.json() : new Uint8Array(await response.arrayBuffer());
}

/** Calibrated probabilities: softmax(logits / temperature), as the server's `metrics.softmax`. */
export function calibrate(logits, temperature = 1) {
  const z = Array.from(logits, (v) => v / temperature);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The k most likely [{category, probability}], best first (ties: the earlier class, as NumPy's sort). */
export function topGuesses(probabilities, classes, k) {
  const order = classes.map((_, i) => i);
  order.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, k).map((i) => ({ category: classes[i], probability: probabilities[i] }));
}

function checkTop(top, n) {
  if (!Number.isInteger(top) || top < 1 || top > n) {
    throw new Error(`top must be an integer from 1 to ${n} (got ${top})`);
  }
  return top;
}

/** The classifier: its ONNX session (or a worker running one), class names and calibration temperature. */
export class Recognizer {
  constructor(card, engine) {
    this.classes = card.classes;
    this.temperature = card.temperature ?? 1;
    this.size = card.config?.size ?? 28;
    this.model = engine.model;
    this.inWorker = engine.inWorker;
    this._engine = engine;
  }

  /**
   * Load the classifier and its card from the folder `baseUrl`.
   * options.model: "int8" (default: 1.3 MB, the server's choice too) or "float" (2.7 MB).
   * options.worker: true to run in a Web Worker (recognizer-worker.js), so the page never waits on it.
   */
  static async load(baseUrl = "models/", options = {}) {
    const model = options.model ?? "int8";
    if (!(model in MODELS)) throw new Error(`model must be one of ${Object.keys(MODELS).join(", ")}`);
    const file = under(baseUrl, MODELS[model]);
    if (options.worker) {
      const engine = await WorkerEngine.start(baseUrl, model);
      return new Recognizer(engine.card, engine);
    }
    const [ort, card, bytes] = await Promise.all([loadOrt(), fetchOk(file + ".json", "json"),
      fetchOk(file, "bytes")]);
    if (!Array.isArray(card.classes) || !card.classes.length) throw new Error(`${file}.json: no classes`);
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    return new Recognizer(card, new SessionEngine(ort, session, model));
  }

  /** A drawing (strokes) -> the `top` most likely [{category, probability}], best first. */
  async classify(drawing, { top = 5 } = {}) {
    checkTop(top, this.classes.length);
    if (this._engine.inWorker) return this._engine.classify(drawing, top);
    return this.classifyBitmap(rasterize(drawing, this.size), { top });
  }

  /** A (size * size) bitmap (0 background, 255 ink, row-major), as pipeline.js draws it -> top guesses. */
  async classifyBitmap(bitmap, { top = 5 } = {}) {
    checkTop(top, this.classes.length);
    if (this._engine.inWorker) throw new Error("classifyBitmap needs a recognizer loaded without worker");
    if (bitmap?.length !== this.size * this.size) {
      throw new Error(`bitmap must have ${this.size * this.size} values (${this.size} x ${this.size})`);
    }
    const logits = await this._engine.logits(bitmap, this.size);
    return topGuesses(calibrate(logits, this.temperature), this.classes, top);
  }

  /** Free the session (or stop the worker). */
  async close() {
    await this._engine.close();
  }
}

/** ONNX Runtime in this thread, one guess at a time (ORT Web does not promise concurrent runs). */
class SessionEngine {
  constructor(ort, session, model) {
    Object.assign(this, { ort, session, model, inWorker: false, queue: Promise.resolve() });
  }

  logits(bitmap, size) {
    const x = Float32Array.from(bitmap, (v) => v / 255); // (1, 1, size, size), 1 = ink, as the server
    const run = async () => {
      const images = new this.ort.Tensor("float32", x, [1, 1, size, size]);
      return (await this.session.run({ images })).logits.data;
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => {});
    return result;
  }

  close() {
    return this.session.release();
  }
}

/** A recognizer-worker.js: messages {id, drawing, top} answered with {id, guesses, ms} or {id, error}. */
class WorkerEngine {
  static start(baseUrl, model) {
    const url = new URL("recognizer-worker.js", HERE);
    url.searchParams.set("models", under(baseUrl, ""));
    url.searchParams.set("model", model);
    const engine = new WorkerEngine(new Worker(url, { type: "module" }), model);
    return engine.ready.then(() => engine);
  }

  constructor(worker, model) {
    Object.assign(this, { worker, model, inWorker: true, pending: new Map(), next: 0 });
    this.ready = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.type === "ready") {
          this.card = data.card;
          resolve();
        } else if (data.type === "error") {
          reject(new Error(data.error));
        } else this.answer(data);
      };
      worker.onerror = (event) => {
        const error = new Error(`recognizer worker failed: ${event.message ?? "cannot start"}`);
        reject(error);
        this.failAll(error);
      };
    });
  }

  answer({ id, guesses, error }) {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    if (error === undefined) waiting.resolve(guesses);
    else waiting.reject(new Error(error));
  }

  failAll(error) {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  classify(drawing, top) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ id, drawing, top });
      } catch (error) { // a drawing that cannot be copied to the worker (a function, a DOM node ...)
        this.pending.delete(id);
        reject(new Error(`drawing cannot be sent to the worker (${error.message})`));
      }
    });
  }

  close() {
    this.failAll(new Error("recognizer closed"));
    this.worker.terminate();
  }
}
