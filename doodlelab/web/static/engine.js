// Where the page's guesses are computed: in the browser when it can (doodles: the shipped 8-bit classifier
// in ONNX Runtime Web in a worker, doodlelab.js; digits: the NumPy MLP's weights, mlp.js), else on the
// server (/api/predict, /api/digits). A browser engine that fails mid-session hands over to the server.
// [data-testid=engine] says which, and the time per guess. `?engine=server` asks for the server.

const MODELS = new URL("../models/", import.meta.url).href; // the served models' files (web/app.py)
const STALL_MS = 4000; // a browser guess slower than this means a stuck worker: the server takes over
const KEEP_TIMES = 1000; // the last guesses' times kept
const WARM_UP = [[[10, 100], [10, 100]]]; // one line: the first run compiles the model, before any user's
const label = document.querySelector('[data-testid="engine"]');

/** Bad input: the same answer on any engine, so it is shown and the engine is kept. */
class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = "InputError";
  }
}

const engine = {
  where: "loading", // "browser" once the models are loaded, "server" for good after a failure
  reason: "", // why the server computes the guesses
  doodles: null, // doodlelab.js's Recognizer
  mlp: null, // mlp.js
  digits: null, // a promise of mlp.js's DigitReader, loaded when the Digits tab is first used (1 MB)
  pipeline: null, // pipeline.js
  classes: null, // the classifier's category names
  times: [], // ms of the last KEEP_TIMES guesses answered, in order (for the benchmark and the curious)
};

function show(ms) {
  const where = engine.where === "browser" ? "in your browser" : "on the server";
  const time = ms === undefined ? "" : ` · ${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms per guess`;
  const loading = engine.where === "loading" ? " while the in-browser model loads" : "";
  label.dataset.where = engine.where === "browser" ? "browser" : "server";
  label.title = engine.reason;
  label.querySelector(".engine-where").textContent = where + loading;
  label.querySelector(".engine-ms").textContent = time;
}

function useServer(reason) {
  engine.where = "server";
  engine.reason = reason;
  if (engine.doodles && engine.doodles.close) engine.doodles.close(); // a stuck worker: end it
  engine.doodles = null;
  show();
}

function stall(promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${STALL_MS / 1000} s`)), STALL_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function load() {
  if (new URLSearchParams(location.search).get("engine") === "server") {
    return useServer("the page was asked to use the server (?engine=server)");
  }
  if (typeof WebAssembly !== "object") return useServer("this browser has no WebAssembly");
  try {
    const [module, pipeline, mlp] = await Promise.all(
      [import("./doodlelab.js"), import("./pipeline.js"), import("./mlp.js")]);
    const doodles = await module.Recognizer.load(MODELS, { worker: true });
    await doodles.classify(WARM_UP, { top: 1 });
    Object.assign(engine, { doodles, pipeline, mlp, classes: doodles.classes || null, where: "browser" });
    engine.reason = "";
    show();
  } catch (err) {
    useServer(`the in-browser model did not load (${err.message})`);
  }
}

async function readDigit(drawing, top) {
  engine.digits ??= engine.mlp.DigitReader.load(`${MODELS}mlp_digits.npz`);
  const reader = await engine.digits;
  const bitmap = engine.pipeline.rasterize(drawing, 28);
  if (!bitmap.some((v) => v > 0)) throw new InputError("cannot draw these strokes (no ink)");
  return reader.classify(bitmap, { top });
}

async function inBrowser(mode, drawing, top) {
  try {
    engine.pipeline.parseDrawing(drawing); // the server's input limits, checked before any work
  } catch (err) {
    throw new InputError(err.message);
  }
  return stall(mode === "digits" ? readDigit(drawing, top) : engine.doodles.classify(drawing, { top }));
}

async function onServer(mode, drawing, top) {
  const response = await fetch(mode === "digits" ? "/api/digits" : "/api/predict", {
    method: "POST", body: JSON.stringify({ drawing, top }), headers: { "Content-Type": "application/json" },
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new InputError(answer.detail || `the server answered ${response.status}`);
  return answer.predictions || [];
}

async function answer(mode, drawing, top) {
  if (engine.where === "loading") {
    try {
      return await onServer(mode, drawing, top);
    } catch (err) {
      if (err instanceof InputError) throw err;
      await ready; // no server (a static copy of the page, or offline): wait for the browser's model
    }
  }
  if (engine.where === "browser") {
    try {
      return await inBrowser(mode, drawing, top);
    } catch (err) {
      if (err instanceof InputError) throw err;
      useServer(`the in-browser engine failed (${err.message}); the server took over`);
    }
  }
  return onServer(mode, drawing, top);
}

/** The top guesses [{category, probability}] of a drawing ([[xs], [ys], [ts]] per stroke) in `mode`
 * ("doodles" or "digits"), from the browser engine or the server, as {predictions, ms, where}. Rejects
 * with an InputError (name "InputError") for input that no engine takes, its message the one to show,
 * and with another Error when the server is out of reach. */
async function classify(mode, drawing, top = 5) {
  const t0 = performance.now();
  const predictions = await answer(mode, drawing, top);
  const ms = performance.now() - t0;
  engine.times.push(ms);
  if (engine.times.length > KEEP_TIMES) engine.times.shift();
  show(ms);
  return { predictions, ms, where: label.dataset.where };
}

/** The classifier's category names: the browser model's, else the server's (while the model loads, the
 * server's; without a server, the model's once loaded). */
async function categories() {
  if (!engine.classes) {
    try {
      const response = await fetch("/api/categories");
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      return (await response.json()).categories;
    } catch (err) {
      await ready;
      if (!engine.classes) throw err;
    }
  }
  return engine.classes;
}

show();
const ready = load();
window.doodlelabEngine = {
  get where() { return engine.where; },
  get reason() { return engine.reason; },
  get times() { return engine.times.slice(); },
  ready,
  classify,
  categories,
};
