/**
 * recognizer-worker.js: doodlelab.js's Recognizer in a Web Worker, so the page never waits on the network.
 * Start it as a module worker, naming the models' folder and the model:
 *   new Worker("recognizer-worker.js?models=/models/&model=int8", {type: "module"}).
 * It posts {type: "ready", card: {classes, temperature, config: {size}}, model} once loaded (or
 * {type: "error", error}); then answers each {id, drawing, top} with {id, guesses, ms} or {id, error}.
 * `ms` is the time in the worker: rasterizing the strokes and running the network.
 */

import { Recognizer } from "./doodlelab.js";

const params = new URL(self.location.href).searchParams;
const loading = Recognizer.load(params.get("models") ?? "../models/",
  { model: params.get("model") ?? "int8" });

loading.then(
  (r) => self.postMessage({ type: "ready", model: r.model,
    card: { classes: r.classes, temperature: r.temperature, config: { size: r.size } } }),
  (error) => self.postMessage({ type: "error", error: `cannot load the classifier: ${error.message}` }),
);

self.onmessage = async ({ data }) => {
  const { id, drawing, top = 5 } = data ?? {};
  try {
    const recognizer = await loading;
    const start = performance.now();
    const guesses = await recognizer.classify(drawing, { top });
    self.postMessage({ id, guesses, ms: performance.now() - start });
  } catch (error) {
    self.postMessage({ id, error: error?.message ?? String(error) });
  }
};
